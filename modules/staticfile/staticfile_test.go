package staticfile

import "testing"

func TestRefuse(t *testing.T) {
	tests := []struct {
		name, pathInfo, path, want string
		c                          conf
	}{
		{name: "plain file", path: "/srv/a.txt", want: ""},
		{name: "excluded extension", path: "/srv/a.php", c: conf{excludeExt: []string{".php", ".pl"}}, want: "extension"},
		{name: "extension is a suffix match", path: "/srv/a.php.txt", c: conf{excludeExt: []string{".php"}}, want: ""},
		{name: "pathinfo allowed by default", path: "/srv/a.txt", pathInfo: "/x", want: ""},
		{name: "pathinfo refused", path: "/srv/a.txt", pathInfo: "/x", c: conf{disablePathinfo: true}, want: "pathinfo"},
		{name: "pathinfo check first", path: "/srv/a.php", pathInfo: "/x", c: conf{disablePathinfo: true, excludeExt: []string{".php"}}, want: "pathinfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refuse(tt.c, tt.pathInfo, tt.path); got != tt.want {
				t.Fatalf("refuse = %q, want %q", got, tt.want)
			}
		})
	}
}
