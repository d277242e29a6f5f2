module github.com/golighty/golighty

go 1.26.0

require (
	github.com/alecthomas/participle/v2 v2.1.4
	github.com/dlclark/regexp2/v2 v2.13.0
	github.com/fsnotify/fsnotify v1.10.1
	github.com/pires/go-proxyproto v0.15.0
	golang.org/x/sys v0.50.0
)
