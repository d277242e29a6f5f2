package h1

// connList is the set of connections served now (for Shutdown and Close):
// an intrusive doubly linked list through the conns, guarded by
// Server.mu. A map cost a hash insert and delete per connection (1.5% of
// golighty's user time with a new connection per request).
type connList struct {
	head *conn
	n    int
}

func (l *connList) add(c *conn) {
	c.prev, c.next = nil, l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
	l.n++
}

func (l *connList) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	l.n--
}

// each calls f for every connection in the list.
func (l *connList) each(f func(*conn)) {
	for c := l.head; c != nil; c = c.next {
		f(c)
	}
}
