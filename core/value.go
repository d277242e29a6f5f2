package core

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/golighty/golighty/lighttpdconf"
)

// Type is the shape a config key accepts. Each type checks its value the way
// lighttpd's config_plugin_values_init does and fails with lighttpd's message,
// so that a migrating user sees the error text they know.
type Type uint8

const (
	TypeString Type = iota + 1 // "..." (an integer is accepted and printed as text)
	TypeInt                    // 32-bit unsigned; a numeric string is accepted
	TypeShort                  // 16-bit unsigned; a numeric string is accepted, larger values wrap
	TypeBool                   // enable/disable, true/false, 1/0, or an integer
	TypeList                   // ( "a", "b" ): a plain string is accepted as a one-element list
	TypeKV                     // ( "k" => "v" )
	TypeKVList                 // ( "k" => ( ... ) )
	TypeKVAny                  // ( "k" => any )
	TypeArray                  // any array (the module checks it)
	TypeAny                    // any value (the module checks it)
)

// Value is a config value that passed its key's Type check. The typed accessor
// matching the key's Type is valid; the raw value stays available for modules
// with nested arrays (fastcgi.server).
type Value struct {
	Key string // the key as written
	Raw lighttpdconf.Value
	Pos lighttpdconf.Pos
	// Block is the index of the config block that sets the value (0 =
	// global), for keys whose values refer to their block's condition
	// (%N captures of url.rewrite and url.redirect).
	Block int
	str   string
	num   int64
	list  []string
	kv    []KV
}

// KV is one `"key" => "value"` pair of a TypeKV value.
type KV struct{ Key, Value string }

func (v Value) String() string                   { return v.str }
func (v Value) Int() int64                       { return v.num }
func (v Value) Bool() bool                       { return v.num != 0 }
func (v Value) List() []string                   { return v.list }
func (v Value) KVs() []KV                        { return v.kv }
func (v Value) Elements() []lighttpdconf.Element { return v.Raw.Arr }

// checkValue converts raw to the typed form of t, or returns lighttpd's error.
func checkValue(key string, raw lighttpdconf.Value, t Type) (Value, error) {
	v := Value{Key: key, Raw: raw, Pos: raw.Pos}
	switch t {
	case TypeString:
		switch raw.Kind {
		case lighttpdconf.KindString:
			v.str = raw.Str
		case lighttpdconf.KindInteger:
			v.str = strconv.FormatInt(int64(raw.Int), 10)
		default:
			return v, fmt.Errorf("%s should have been a string like ... = \"...\"", key)
		}
	case TypeInt, TypeShort:
		n, err := intValue(key, raw, t)
		if err != nil {
			return v, err
		}
		v.num = n
	case TypeBool:
		b, ok := boolValue(raw)
		if !ok {
			return v, fmt.Errorf("ERROR: unexpected type for key: %s (string) \"(enable|disable)\"", key)
		}
		if b {
			v.num = 1
		}
	case TypeList:
		switch raw.Kind {
		case lighttpdconf.KindString:
			v.list = []string{raw.Str}
		case lighttpdconf.KindArray:
			for _, e := range raw.Arr {
				if e.Value.Kind != lighttpdconf.KindString {
					return v, fmt.Errorf("%s should have been a list of string values like %s = ( \"...\", \"...\" )", key, key)
				}
				v.list = append(v.list, e.Value.Str)
			}
		default:
			return v, fmt.Errorf("%s should have been a list like %s = ( \"...\" )", key, key)
		}
	case TypeKV:
		if raw.Kind != lighttpdconf.KindArray {
			return v, fmt.Errorf("%s should have been a list of key => string values like %s = ( \"...\" => \"...\", \"...\" => \"...\" )", key, key)
		}
		for _, e := range raw.Arr {
			if !e.HasKey || (e.Value.Kind != lighttpdconf.KindString && e.Value.Kind != lighttpdconf.KindInteger) {
				return v, fmt.Errorf("%s should have been a list of key => string values like %s = ( \"...\" => \"...\", \"...\" => \"...\" )", key, key)
			}
			val := e.Value.Str
			if e.Value.Kind == lighttpdconf.KindInteger {
				val = strconv.FormatInt(int64(e.Value.Int), 10)
			}
			v.kv = append(v.kv, KV{e.Key, val})
		}
	case TypeKVList:
		if raw.Kind != lighttpdconf.KindArray {
			return v, fmt.Errorf("%s should have been a list of key => list like %s = ( \"...\" => ( \"...\" => \"...\" ) )", key, key)
		}
		for _, e := range raw.Arr {
			if !e.HasKey || e.Value.Kind != lighttpdconf.KindArray {
				return v, fmt.Errorf("%s should have been a list of key => list like %s = ( \"...\" => ( \"...\" => \"...\" ) )", key, key)
			}
		}
	case TypeKVAny:
		if raw.Kind != lighttpdconf.KindArray {
			return v, fmt.Errorf("%s should have been a list of key => values like %s = ( \"...\" => \"...\", \"...\" => \"...\" )", key, key)
		}
		for _, e := range raw.Arr {
			if !e.HasKey {
				return v, fmt.Errorf("%s should have been a list of key => values like %s = ( \"...\" => \"...\", \"...\" => \"...\" )", key, key)
			}
		}
	case TypeArray:
		if raw.Kind != lighttpdconf.KindArray {
			return v, fmt.Errorf("%s should have been a list like %s = ( \"...\" )", key, key)
		}
	case TypeAny:
	}
	return v, nil
}

func intValue(key string, raw lighttpdconf.Value, t Type) (int64, error) {
	switch raw.Kind {
	case lighttpdconf.KindInteger:
		n := int64(raw.Int)
		if t == TypeShort {
			return int64(uint16(n)), nil
		}
		if n < 0 {
			return 0, fmt.Errorf("unexpected type for key: %s (integer) expected an integer, range 0 ... 4294967295", key)
		}
		return n, nil
	case lighttpdconf.KindString:
		s := strings.TrimSpace(raw.Str)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			if t == TypeShort {
				return 0, fmt.Errorf("got a string but expected a short: %s %s", key, raw.Str)
			}
			return 0, fmt.Errorf("got a string but expected an integer: %s %s", key, raw.Str)
		}
		if t == TypeShort {
			return int64(uint16(n)), nil
		}
		return int64(uint32(n)), nil
	}
	if t == TypeShort {
		return 0, fmt.Errorf("unexpected type for key: %s (array) expected a short integer, range 0 ... 65535", key)
	}
	return 0, fmt.Errorf("unexpected type for key: %s (array) expected an integer, range 0 ... 4294967295", key)
}

// boolValue applies lighttpd's boolean spelling rules (config-syntax §3.1).
func boolValue(raw lighttpdconf.Value) (bool, bool) {
	switch raw.Kind {
	case lighttpdconf.KindInteger:
		return raw.Int != 0, true
	case lighttpdconf.KindString:
		switch strings.ToLower(raw.Str) {
		case "enable", "enabled", "true", "1":
			return true, true
		case "disable", "disabled", "false", "0":
			return false, true
		}
	}
	return false, false
}

// ParseBool reads a boolean written inside an array (fastcgi.server options,
// server.http-parseopts) with lighttpd's spelling rules.
func ParseBool(raw lighttpdconf.Value) (bool, bool) { return boolValue(raw) }
