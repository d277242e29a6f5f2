module github.com/golighty/golighty

go 1.26.0

require (
	github.com/alecthomas/participle/v2 v2.1.4
	github.com/dlclark/regexp2/v2 v2.13.0
	github.com/fsnotify/fsnotify v1.10.1
	golang.org/x/sys v0.50.0
)

require golang.org/x/crypto v0.59.0 // indirect
