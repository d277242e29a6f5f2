package testconf

import (
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// maxminddbWrite writes a GeoIP2-City-shaped database whose record for
// 127.0.0.0/8 holds a value of every MaxMind DB type.
func maxminddbWrite(t *testing.T, path string) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	u128 := new(big.Int).Lsh(big.NewInt(0x0102030405060708), 64)
	u128.Or(u128, big.NewInt(0x090a0b0c0d0e0f10))
	_, loop, _ := net.ParseCIDR("127.0.0.0/8")
	err = w.Insert(loop, mmdbtype.Map{
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String("ZZ"), "names": mmdbtype.Map{"en": mmdbtype.String("Testland")}},
		"city":         mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("Loopback City")}},
		"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(52.123456789), "longitude": mmdbtype.Float64(-0.5), "accuracy_radius": mmdbtype.Uint16(20)},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("S1")}, mmdbtype.Map{"iso_code": mmdbtype.String("S2")}},
		"flags":        mmdbtype.Map{"eu": mmdbtype.Bool(true), "anycast": mmdbtype.Bool(false)},
		"numbers": mmdbtype.Map{"f32": mmdbtype.Float32(1.25), "i32": mmdbtype.Int32(-42), "u32": mmdbtype.Uint32(4000000000),
			"u64": mmdbtype.Uint64(18000000000000000000), "u128": (*mmdbtype.Uint128)(u128), "raw": mmdbtype.Bytes("raw bytes")},
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}

const maxminddbConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_maxminddb", "mod_fastcgi")
maxminddb.activate = "enable"
maxminddb.db = "@ROOT@/test.mmdb"
maxminddb.env = (
	"GEOIP_COUNTRY_CODE" => "country/iso_code",
	"GEOIP_COUNTRY_NAME" => "country/names/en",
	"GEOIP_CITY_NAME" => "city/names/en",
	"GEOIP_CITY_LATITUDE" => "location/latitude",
	"GEOIP_CITY_LONGITUDE" => "location/longitude",
	"GEO_RADIUS" => "location/accuracy_radius",
	"GEO_SUB1" => "subdivisions/1/iso_code",
	"GEO_SUB9" => "subdivisions/9/iso_code",
	"GEO_EU" => "flags/eu",
	"GEO_ANYCAST" => "flags/anycast",
	"GEO_F32" => "numbers/f32",
	"GEO_I32" => "numbers/i32",
	"GEO_U32" => "numbers/u32",
	"GEO_U64" => "numbers/u64",
	"GEO_U128" => "numbers/u128",
	"GEO_RAW" => "numbers/raw",
	"GEO_MAP" => "country/names",
	"GEO_MISSING" => "no/such/path",
)
$HTTP["url"] =^ "/off/" { maxminddb.activate = "disable" }
$HTTP["url"] =^ "/short/" { maxminddb.env = ( "GEOIP_COUNTRY_CODE" => "country/iso_code" ) }
fastcgi.server = ( ".php" => ((
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/@NAME@.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "1", "GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@" ),
)))
`

// TestMaxminddbSideBySide looks 127.0.0.1 up in a database the test wrote,
// through golighty and lighttpd's mod_maxminddb, and compares the GEO*
// variables PHP sees, byte for byte (number formats, booleans, the
// uint128's byte order, paths into arrays, maps and missing paths).
func TestMaxminddbSideBySide(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	if _, err := os.Stat("/usr/lib/lighttpd/mod_maxminddb.so"); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("lighttpd-mod-maxminddb is required (GOLIGHTY_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("lighttpd-mod-maxminddb not installed")
	}
	root := t.TempDir()
	script := `<?php $v = []; foreach ($_SERVER as $k => $x) if (strncmp($k, "GEO", 3) == 0) $v[] = "$k=" . bin2hex($x); sort($v); echo implode("\n", $v), "\n";`
	writeTree(t, root, map[string]string{"www/env.php": script, "www/off/env.php": script, "www/short/env.php": script})
	maxminddbWrite(t, filepath.Join(root, "test.mmdb"))
	mk := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(maxminddbConf)
	}
	g := startServer(t, "golighty", golightyBin, root, mk("golighty"))
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l := startServer(t, "lighttpd", lighttpd, root, mk("lighttpd"))
	reqs := []string{
		"GET /env.php HTTP/1.0\r\n\r\n",
		"GET /off/env.php HTTP/1.0\r\n\r\n",
		"GET /short/env.php HTTP/1.0\r\n\r\n",
	}
	compareSideBySide(t, g, l, reqs, nil, nil)
	ex := g.raw(t, reqs[0], false)
	if !strings.Contains(string(ex.body), "GEOIP_COUNTRY_CODE=5a5a\n") || !strings.Contains(string(ex.body), "GEO_U128=") || strings.Contains(string(ex.body), "GEO_MAP") {
		t.Errorf("golighty set no country: %q", ex.body)
	}
}
