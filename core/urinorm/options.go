package urinorm

import (
	"errors"
	"fmt"
)

// Options are lighttpd's server.http-parseopts. The url-* ones drive
// NormalizeTarget; the others are carried here so one value describes the
// whole setting.
type Options struct {
	HeaderStrict  bool // header-strict
	HostStrict    bool // host-strict (implies host normalization)
	HostNormalize bool // host-normalize
	MethodGetBody bool // method-get-body

	URLNormalize        bool // url-normalize: master switch for every url-* option
	NormalizeUnreserved bool // url-normalize-unreserved
	NormalizeRequired   bool // url-normalize-required
	CtrlsReject         bool // url-ctrls-reject
	PathBackslashTrans  bool // url-path-backslash-trans (acts on Windows only, as in lighttpd)
	Path2FDecode        bool // url-path-2f-decode
	Path2FReject        bool // url-path-2f-reject
	PathDotsegRemove    bool // url-path-dotseg-remove
	PathDotsegReject    bool // url-path-dotseg-reject
	Query20Plus         bool // url-query-20-plus
	InvalidUTF8Reject   bool // url-invalid-utf8-reject
}

// DefaultOptions returns lighttpd 1.4.69's defaults.
func DefaultOptions() Options {
	return Options{
		HeaderStrict:        true,
		HostStrict:          true,
		URLNormalize:        true,
		NormalizeUnreserved: true,
		CtrlsReject:         true,
		Path2FDecode:        true,
		PathDotsegRemove:    true,
		InvalidUTF8Reject:   true,
	}
}

// ParseOpt is one "key" => enable/disable entry of server.http-parseopts.
type ParseOpt struct {
	Key    string
	Enable bool
}

// ApplyParseOpts starts from DefaultOptions and applies the entries in order
// with lighttpd's rules: url-normalize => disable clears every url option and
// ends processing; conflicting pairs are errors; if neither normalization
// mode is left on but some url option is, url-normalize-unreserved and
// url-invalid-utf8-reject are forced on, and url-path-2f-decode too unless it
// was explicitly disabled or url-path-2f-reject is on. Errors use lighttpd's
// messages; all of them are returned (joined). Checking that each value is a
// boolean is the caller's job.
func ApplyParseOpts(entries []ParseOpt) (Options, error) {
	o := DefaultOptions()
	var errs []error
	decode2F := true
	for _, e := range entries {
		var p *bool
		switch e.Key {
		case "header-strict":
			o.HeaderStrict = e.Enable
			continue
		case "host-strict":
			o.HostStrict = e.Enable
			continue
		case "host-normalize":
			o.HostNormalize = e.Enable
			continue
		case "method-get-body":
			o.MethodGetBody = e.Enable
			continue
		case "url-normalize":
			p = &o.URLNormalize
		case "url-normalize-unreserved":
			p = &o.NormalizeUnreserved
		case "url-normalize-required":
			p = &o.NormalizeRequired
		case "url-ctrls-reject":
			p = &o.CtrlsReject
		case "url-path-backslash-trans":
			p = &o.PathBackslashTrans
		case "url-path-2f-decode":
			p = &o.Path2FDecode
		case "url-path-2f-reject":
			p = &o.Path2FReject
		case "url-path-dotseg-remove":
			p = &o.PathDotsegRemove
		case "url-path-dotseg-reject":
			p = &o.PathDotsegReject
		case "url-query-20-plus":
			p = &o.Query20Plus
		case "url-invalid-utf8-reject":
			p = &o.InvalidUTF8Reject
		default:
			errs = append(errs, fmt.Errorf("unrecognized key for server.http-parseopts: %s", e.Key))
			continue
		}
		*p = e.Enable
		if !e.Enable && p == &o.URLNormalize {
			o.clearURL()
			return o, errors.Join(errs...)
		}
		if !e.Enable && p == &o.Path2FDecode {
			decode2F = false
		}
	}
	if !o.anyURL() {
		o.URLNormalize = false
		return o, errors.Join(errs...)
	}
	o.URLNormalize = true
	if o.Path2FDecode && o.Path2FReject {
		errs = append(errs, errors.New("conflicting options in server.http-parseopts:url-path-2f-decode, url-path-2f-reject"))
	}
	if o.PathDotsegRemove && o.PathDotsegReject {
		errs = append(errs, errors.New("conflicting options in server.http-parseopts:url-path-dotseg-remove, url-path-dotseg-reject"))
	}
	if !o.NormalizeUnreserved && !o.NormalizeRequired {
		o.NormalizeUnreserved = true
		o.InvalidUTF8Reject = true
		if decode2F && !o.Path2FReject {
			o.Path2FDecode = true
		}
	}
	return o, errors.Join(errs...)
}

func (o *Options) clearURL() {
	o.URLNormalize, o.NormalizeUnreserved, o.NormalizeRequired = false, false, false
	o.CtrlsReject, o.PathBackslashTrans, o.Path2FDecode, o.Path2FReject = false, false, false, false
	o.PathDotsegRemove, o.PathDotsegReject, o.Query20Plus, o.InvalidUTF8Reject = false, false, false, false
}

func (o *Options) anyURL() bool {
	return o.URLNormalize || o.NormalizeUnreserved || o.NormalizeRequired || o.CtrlsReject ||
		o.PathBackslashTrans || o.Path2FDecode || o.Path2FReject || o.PathDotsegRemove ||
		o.PathDotsegReject || o.Query20Plus || o.InvalidUTF8Reject
}
