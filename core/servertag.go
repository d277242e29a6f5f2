package core

// serverTagger is a ResponseWriter that can put another server tag in one
// response's Server header (the wire engines of this package).
type serverTagger interface{ SetServerTag(string) }

// conditionalServerTag hands a server.tag that a condition set to the wire
// engine, which otherwise adds the global one to every response, while
// lighttpd reads server.tag per request ($HTTP["host"] == "x" {
// server.tag = "..." }). A tag a condition empties is not honoured yet: the
// global one is sent.
func (rc *Request) conditionalServerTag() {
	tag := rc.Conf.ServerTag
	if tag == "" || tag == rc.Snap.Core.Table.def.ServerTag {
		return
	}
	if st, ok := rc.w.(serverTagger); ok {
		st.SetServerTag(tag)
	}
}
