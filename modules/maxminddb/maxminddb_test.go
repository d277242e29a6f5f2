package maxminddb

import (
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/staticfile"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeDB writes a City-style database with a record for 127.0.0.0/8
// holding one value of every MaxMind DB type.
func writeDB(t *testing.T, path string) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	u128 := new(big.Int).Lsh(big.NewInt(0x0102030405060708), 64)
	u128.Or(u128, big.NewInt(0x090a0b0c0d0e0f10))
	_, loop, _ := net.ParseCIDR("127.0.0.0/8")
	err = w.Insert(loop, mmdbtype.Map{
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String("ZZ"), "names": mmdbtype.Map{"en": mmdbtype.String("Testland"), "de": mmdbtype.String("Testländ")}},
		"city":         mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("Loopback City")}},
		"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(52.123456789), "longitude": mmdbtype.Float64(-0.5), "accuracy_radius": mmdbtype.Uint16(20)},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("S1")}, mmdbtype.Map{"iso_code": mmdbtype.String("S2")}},
		"flags":        mmdbtype.Map{"eu": mmdbtype.Bool(true), "anycast": mmdbtype.Bool(false)},
		"numbers": mmdbtype.Map{"f32": mmdbtype.Float32(1.25), "i32": mmdbtype.Int32(-42), "u32": mmdbtype.Uint32(4000000000),
			"u64": mmdbtype.Uint64(18000000000000000000), "u128": (*mmdbtype.Uint128)(u128), "raw": mmdbtype.Bytes("by\x00tes")},
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

// envModule answers with the backend variables the request would get.
type envModule struct{}

func (envModule) Setup(*core.SetupContext) error { return nil }
func (envModule) URIClean(rc *core.Request) core.Result {
	rc.SetHandler("test", envModule{})
	return core.GoOn
}
func (envModule) Serve(rc *core.Request) core.Result {
	var b strings.Builder
	rc.CGIEnv(envSink{&b}, &core.CGIOptions{})
	rc.Resp.Status = 200
	rc.Resp.SetBody([]byte(b.String()))
	return core.Finished
}

type envSink struct{ b *strings.Builder }

func (e envSink) Add(name, value string) {
	if strings.HasPrefix(name, "GEO") {
		e.b.WriteString(name + "=" + value + "\n")
	}
}

func init() {
	core.Register(core.ModuleInfo{Name: "mod_test_env", New: func() core.Module { return envModule{} }})
}

const envConf = `server.document-root = "@DIR@"
server.modules = ("mod_maxminddb", "mod_test_env")
maxminddb.activate = "enable"
maxminddb.db = "@DIR@/test.mmdb"
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
$HTTP["url"] =^ "/off" { maxminddb.activate = "disable" }
$HTTP["url"] =^ "/short" { maxminddb.env = ( "GEOIP_COUNTRY_CODE" => "country/iso_code" ) }
$HTTP["url"] =^ "/empty" { maxminddb.env = () }
`

// harness serves envConf on a real loopback connection, so the client
// address is 127.0.0.1 as in production.
func get(t *testing.T, h *coretest.Harness, path string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			h.Server.ServeConn(c, ":80")
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET " + path + " HTTP/1.0\r\n\r\n"))
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	_, body, _ := strings.Cut(b.String(), "\r\n\r\n")
	return body
}

func TestEnv(t *testing.T) {
	db := filepath.Join(t.TempDir(), "test.mmdb")
	writeDB(t, db) // opened at load, so written first
	h := coretest.New(t, strings.ReplaceAll(envConf, "@DIR@/test.mmdb", db))
	want := "GEOIP_COUNTRY_CODE=ZZ\nGEOIP_COUNTRY_NAME=Testland\nGEOIP_CITY_NAME=Loopback City\n" +
		"GEOIP_CITY_LATITUDE=52.12346\nGEOIP_CITY_LONGITUDE=-0.50000\nGEO_RADIUS=20\nGEO_SUB1=S2\nGEO_EU=1\nGEO_ANYCAST=0\n" +
		"GEO_F32=1.25000\nGEO_I32=-42\nGEO_U32=4000000000\nGEO_U64=18000000000000000000\n" +
		"GEO_U128=0x100F0E0D0C0B0A090807060504030201\nGEO_RAW=by\x00tes\n"
	if got := get(t, h, "/x"); got != want {
		t.Errorf("env:\n%q\nwant\n%q", got, want)
	}
	if got := get(t, h, "/off"); got != "" {
		t.Errorf("disabled: %q", got)
	}
	if got := get(t, h, "/short"); got != "GEOIP_COUNTRY_CODE=ZZ\n" {
		t.Errorf("conditional env: %q", got)
	}
	if got := get(t, h, "/empty"); got != want {
		t.Errorf("an empty env list must not clear the outer one: %q", got)
	}
	// A client the database does not know gets no variables: the harness's
	// in-memory connection has no address at all.
	if _, body := h.Get("/x"); body != "" {
		t.Errorf("no address: %q", body)
	}
}

func compile(t *testing.T, conf string) error {
	t.Helper()
	dir := t.TempDir()
	writeDB(t, filepath.Join(dir, "ok.mmdb"))
	os.WriteFile(filepath.Join(dir, "bad.mmdb"), []byte("not a database"), 0o644)
	path := filepath.Join(dir, "l.conf")
	os.WriteFile(path, []byte(strings.ReplaceAll(conf, "@DIR@", dir)), 0o644)
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := core.Compile(parsed, core.CompileOptions{}, nil)
	if err == nil {
		m, _ := snap.Module("mod_maxminddb")
		m.(*Module).Close()
	}
	return err
}

func TestConfigErrors(t *testing.T) {
	base := "server.document-root = \"/tmp\"\nserver.modules = (\"mod_maxminddb\")\n"
	cases := []struct{ conf, err string }{
		{`maxminddb.db = "@DIR@/ok.mmdb"`, ""},
		{`maxminddb.db = ""`, ""},
		{`maxminddb.db = "@DIR@/ok.dat"`, "GeoIP database is of unsupported type"},
		{`maxminddb.db = ".mmdb"`, "GeoIP database is of unsupported type"},
		{`maxminddb.db = "@DIR@/missing.mmdb"`, "failed to open GeoIP2 database"},
		{`maxminddb.db = "@DIR@/bad.mmdb"`, "failed to open GeoIP2 database"},
		{`maxminddb.env = ("A" => "/country")`, "must not begin or end with '/'"},
		{`maxminddb.env = ("A" => "country/")`, "must not begin or end with '/'"},
		{`maxminddb.env = ("A" => "")`, "must not begin or end with '/'"},
		{`maxminddb.env = ("A" => "country/iso_code")`, ""},
	}
	for _, c := range cases {
		err := compile(t, base+c.conf+"\n")
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.conf, err, c.err)
		}
	}
}
