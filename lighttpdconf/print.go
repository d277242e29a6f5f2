package lighttpdconf

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// Print writes the configuration exactly as `lighttpd -p` does (spec §14).
func (c *Config) Print(w io.Writer) error {
	bw := bufio.NewWriter(w)
	printBlock(bw, c.Global, 0)
	bw.WriteByte('\n')
	return bw.Flush()
}

func indent(w *bufio.Writer, depth int) {
	for i := 0; i < depth*4; i++ {
		w.WriteByte(' ')
	}
}

func pad(w *bufio.Writer, n int) {
	for ; n > 0; n-- {
		w.WriteByte(' ')
	}
}

func printBlock(w *bufio.Writer, b *Block, depth int) {
	if b.Index == 0 {
		w.WriteString("config {\n")
	} else {
		if b.Cond != nil {
			w.WriteString(b.Cond.text)
			w.WriteByte(' ')
		}
		w.WriteString("{\n")
		indent(w, depth+1)
		w.WriteString("# block ")
		w.WriteString(strconv.Itoa(b.Index))
		w.WriteByte('\n')
	}
	depth++
	maxlen := 0
	for _, e := range b.Entries {
		maxlen = max(maxlen, len(e.Key))
	}
	for _, e := range b.Entries {
		indent(w, depth)
		w.WriteString(e.Key)
		pad(w, maxlen-len(e.Key))
		w.WriteString(" = ")
		printValue(w, e.Value, depth)
		w.WriteByte('\n')
	}
	w.WriteByte('\n')
	for _, ch := range b.Children {
		if ch.Prev == nil {
			w.WriteByte('\n')
			indent(w, depth)
			printBlock(w, ch, depth)
			w.WriteByte('\n')
		}
	}
	depth--
	indent(w, depth)
	w.WriteByte('}')
	if b.Index != 0 {
		w.WriteString(" # end of ")
		w.WriteString(b.Text())
	}
	if b.next != nil {
		w.WriteByte('\n')
		indent(w, depth)
		w.WriteString("else ")
		printBlock(w, b.next, depth)
	}
}

func printString(w *bufio.Writer, s string) {
	// lighttpd prints C strings: output stops at a NUL byte
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	w.WriteByte('"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		w.WriteString(s[:i])
		w.WriteString(`\"`)
		s = s[i+1:]
	}
	w.WriteString(s)
	w.WriteByte('"')
}

func printValue(w *bufio.Writer, v Value, depth int) {
	switch v.Kind {
	case KindString:
		printString(w, v.Str)
	case KindInteger:
		w.WriteString(strconv.Itoa(int(v.Int)))
	case KindArray:
		printArray(w, v.Arr, depth)
	}
}

func printArray(w *bufio.Writer, a []Element, depth int) {
	if len(a) <= 5 && (len(a) == 0 || !a[0].HasKey) {
		oneline := true
		for _, el := range a {
			if el.Value.Kind == KindArray {
				oneline = false
				break
			}
		}
		if oneline {
			w.WriteByte('(')
			for i, el := range a {
				if i > 0 {
					w.WriteString(", ")
				}
				printValue(w, el.Value, depth+1)
			}
			w.WriteByte(')')
			return
		}
	}
	maxlen := 0
	for _, el := range a {
		if el.HasKey {
			maxlen = max(maxlen, len(el.Key))
		}
	}
	w.WriteString("(\n")
	for _, el := range a {
		indent(w, depth+1)
		if el.HasKey {
			w.WriteByte('"')
			w.WriteString(el.Key)
			w.WriteByte('"')
			pad(w, maxlen-len(el.Key))
			w.WriteString(" => ")
		}
		printValue(w, el.Value, depth+1)
		w.WriteString(",\n")
	}
	indent(w, depth)
	w.WriteByte(')')
}
