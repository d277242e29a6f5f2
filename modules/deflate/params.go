package deflate

import (
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// params is deflate.params, per encoder, with lighttpd's defaults.
type params struct {
	gzipLevel    int // 0: unset (zlib's default)
	gzipStrategy int // 0 default, 2 Huffman only; others are zlib tunings without an equivalent here
	brQuality    int
	brWindow     int
	zstdLevel    int
	zstdWindow   int
}

// parseParams reads deflate.params as mod_deflate_parse_params does: keys
// case-insensitive, values numbers or numeric strings, a bad value or an
// unknown key logged and skipped. gzip.windowBits, gzip.memLevel,
// BROTLI_PARAM_MODE and ZSTD_c_strategy are checked but have no equivalent
// tuning in the Go encoders (the output stays valid, only its size differs).
func parseParams(v core.Value, warn func(format string, args ...any)) *params {
	p := &params{brQuality: 5, zstdLevel: 3}
	for _, e := range v.Elements() {
		n := toInt32(e.Value)
		in := func(lo, hi int) bool { return lo <= n && n <= hi }
		switch strings.ToLower(e.Key) {
		case "brotli_param_quality":
			if in(0, 11) {
				p.brQuality = n
			} else {
				warn("invalid value for BROTLI_PARAM_QUALITY")
			}
		case "brotli_param_lgwin":
			if in(10, 24) {
				p.brWindow = n
			} else {
				warn("invalid value for BROTLI_PARAM_LGWIN")
			}
		case "brotli_param_mode":
			if !in(0, 2) {
				warn("invalid value for BROTLI_PARAM_MODE")
			}
		case "zstd_c_compressionlevel":
			p.zstdLevel = n
		case "zstd_c_strategy":
			if !in(1, 9) {
				warn("invalid value for ZSTD_c_strategy")
			}
		case "zstd_c_windowlog":
			if in(10, 31) {
				p.zstdWindow = n
			} else {
				warn("invalid value for ZSTD_c_windowLog")
			}
		case "gzip.level":
			if in(1, 9) {
				p.gzipLevel = n
			} else {
				warn("invalid value for gzip.level")
			}
		case "gzip.windowbits":
			if !in(9, 15) {
				warn("invalid value for gzip.windowBits")
			}
		case "gzip.memlevel":
			if !in(1, 9) {
				warn("invalid value for gzip.memLevel")
			}
		case "gzip.strategy":
			if in(0, 4) {
				p.gzipStrategy = n
			} else {
				warn("invalid value for gzip.strategy")
			}
		default:
			warn("unrecognized param: %s", e.Key)
		}
	}
	return p
}

// toInt32 is config_plugin_value_to_int32 with -1 as the fallback.
func toInt32(v lighttpdconf.Value) int {
	switch v.Kind {
	case lighttpdconf.KindInteger:
		return int(v.Int)
	case lighttpdconf.KindString:
		if n, err := strconv.ParseInt(strings.TrimSpace(v.Str), 10, 32); err == nil {
			return int(n)
		}
	}
	return -1
}

// settings resolves the encoder configuration of a codec as mod_deflate's
// stream_*_init do: deflate.params when set, else deflate.compression-level
// (gzip and deflate: 1-9, default zlib's 6; brotli: quality, default 5;
// zstd: lighttpd 1.4.69 applies the level as ZSTD_c_strategy, which maps
// here to the nearest encoder speed).
func (c *conf) settings(cd codec) settings {
	s := settings{codec: cd}
	switch cd {
	case codecGzip, codecZlib:
		l := c.level
		if c.params != nil {
			l = c.params.gzipLevel
			if c.params.gzipStrategy == 2 {
				l = flate.HuffmanOnly
			}
		}
		if l == 0 || l == -1 {
			l = 6 // zlib's Z_DEFAULT_COMPRESSION (klauspost's default is 5)
		}
		s.level = l
	case codecBr:
		s.level = 5
		switch {
		case c.params != nil:
			s.level, s.win = c.params.brQuality, c.params.brWindow
		case c.level >= 0:
			s.level = c.level
		}
	case codecZstd:
		level := zstd.SpeedDefault
		switch {
		case c.params != nil:
			level = zstd.EncoderLevelFromZstd(c.params.zstdLevel)
			s.win = c.params.zstdWindow
		case c.level >= 0:
			level = zstdStrategySpeed(c.level)
		}
		s.level = int(level)
	}
	return s
}

// zstdStrategySpeed maps a zstd strategy (1 fast .. 9 btultra2) to the
// encoder speed closest in effort.
func zstdStrategySpeed(strategy int) zstd.EncoderLevel {
	switch {
	case strategy <= 1:
		return zstd.SpeedFastest
	case strategy <= 4:
		return zstd.SpeedDefault
	case strategy <= 7:
		return zstd.SpeedBetterCompression
	}
	return zstd.SpeedBestCompression
}
