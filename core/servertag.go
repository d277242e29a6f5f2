package core

// serverTagger is a ResponseWriter that can send another server tag in one
// response's Server header (the wire engines of this package).
type serverTagger interface{ SetServerTag(string) }

// conditionalServerTag hands a server.tag that a condition set to the wire
// engine before a streamed head leaves, as ServeH1 and ServeH2 do for the
// responses written after the handler returned (lighttpd reads server.tag
// per request).
func (rc *Request) conditionalServerTag() {
	if rc.Conf.ServerTag == rc.Snap.Core.Table.def.ServerTag {
		return
	}
	if st, ok := rc.w.(serverTagger); ok {
		st.SetServerTag(rc.Conf.ServerTag)
	}
}
