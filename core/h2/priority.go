package h2

import "bytes"

// Priorities as lighttpd 1.4.69 handles them: RFC 9218 urgency (0-7) and
// incremental flag from the "priority" request field or a PRIORITY_UPDATE
// frame, stored as urgency<<1 | !incremental so that sorting ascending puts
// urgent streams first and incremental ones before the rest. RFC 7540
// PRIORITY frames and HEADERS priority blocks are ignored (only a stream
// depending on itself is an error), and SETTINGS_NO_RFC7540_PRIORITIES is
// advertised.

// defaultPriority is urgency 3, not incremental.
const defaultPriority = 3<<1 | 1

// requestPriority picks a new stream's priority: its "priority" field, else
// urgency 2 for targets ending in .js or .css (lighttpd's heuristic, which
// also announces it in the response).
func requestPriority(s *stream) uint8 {
	r := &s.req
	if v := r.Header("priority"); v != nil {
		return parsePriority(string(v))
	}
	t := r.Target
	if bytes.HasSuffix(t, []byte(".js")) || bytes.HasSuffix(t, []byte(".css")) {
		s.prioHeader = true
		return 2<<1 | 1
	}
	return defaultPriority
}

// parsePriority reads a structured-field dictionary the way lighttpd's
// h2_parse_priority_update does: "u=N" (0-7) and "i" / "i=?0" / "i=?1";
// parsing stops at the first syntax error, keeping what was read.
func parsePriority(p string) uint8 {
	urg, incr := 3, 0
	for i := 0; i < len(p); i++ {
		if p[i] == ' ' || p[i] == '\t' || p[i] == ',' {
			continue
		}
		if p[i] == 'u' {
			if i+2 < len(p) && p[i+1] == '=' && p[i+2] >= '0' && p[i+2] <= '7' {
				urg = int(p[i+2] - '0')
				i += 2
			} else {
				break
			}
		}
		if i < len(p) && p[i] == 'i' {
			switch {
			case i+3 < len(p) && p[i+1] == '=' && p[i+2] == '?' && (p[i+3] == '0' || p[i+3] == '1'):
				incr = int(p[i+3] - '0')
				i += 3
			case i+1 == len(p) || p[i+1] == ' ' || p[i+1] == '\t' || p[i+1] == ',':
				incr = 1
			default:
				return prio(urg, incr)
			}
		}
		for i+1 < len(p) && p[i+1] != ',' {
			i++
		}
		i++
	}
	return prio(urg, incr)
}

func prio(urg, incr int) uint8 {
	v := uint8(urg << 1)
	if incr == 0 {
		v |= 1
	}
	return v
}
