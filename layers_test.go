package opal_test

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// layers are the package's files from the bottom up, as a request goes down
// through them. A file may use what a file of its own layer or of a layer
// below defines (a type, function, variable, constant, method or field),
// and nothing of a layer above. Files not listed (the services, such as
// sessions.go, and the API's types) are on top.
//
// One exception, as in go-github, where services hang off the Client: the
// Client in opal.go names its services (the types named ...Service, such as
// SessionsService, of the files on top) as its fields, and NewClient makes
// them. Services call the Client's methods, such as get, from above, which
// the layers allow anyway.
var layers = [][]string{
	{"redact.go"}, // keeping the token out of text
	{"errors.go"}, // APIError, the sentinels, what newAPIError parses
	{"page.go", "response.go", "transport.go", "ratelimit.go"}, // the page of every list and decoding any 2xx; what every attempt needs; the shared limiter
	{"retry.go"},               // one call's attempts
	{"opal.go", "iterator.go"}, // the Client and get; the generic pager
}

// layerOf is the layer of a file; the files on top are above every layer.
func layerOf(file string) int {
	for i, files := range layers {
		if slices.Contains(files, file) {
			return i
		}
	}
	return len(layers)
}

// exportData is an importer for the package's imports: their export data,
// as the go command built it for this package.
func exportData(t *testing.T, fset *token.FileSet) types.Importer {
	t.Helper()
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	files := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		importPath, file, _ := strings.Cut(line, "=")
		files[importPath] = file
	}
	return importer.ForCompiler(fset, "gc", func(importPath string) (io.ReadCloser, error) {
		if files[importPath] == "" {
			return nil, fmt.Errorf("no export data for %s", importPath)
		}
		return os.Open(files[importPath])
	})
}

// use is a file using a name that another file of the package defines.
type use struct {
	file, name, definedIn string
	isType                bool
}

// packageUses type-checks the package's files (not its tests) and returns
// every use of a name of the package in a file other than the one that
// defines it.
func packageUses(t *testing.T) []use {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: exportData(t, fset)}
	pkg, err := conf.Check("github.com/opalclient/opal-go", fset, files, info)
	if err != nil {
		t.Fatal(err)
	}
	var uses []use
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue // universe, or an import
		}
		if fn, ok := obj.(*types.Func); ok {
			obj = fn.Origin() // a method of an instantiated generic type
		} else if v, ok := obj.(*types.Var); ok {
			obj = v.Origin()
		}
		file := filepath.Base(fset.Position(id.Pos()).Filename)
		definedIn := filepath.Base(fset.Position(obj.Pos()).Filename)
		if file != definedIn {
			_, isType := obj.(*types.TypeName)
			uses = append(uses, use{file, obj.Name(), definedIn, isType})
		}
	}
	return uses
}

// TestLayers: no file uses a name defined in a file of a layer above it.
func TestLayers(t *testing.T) {
	uses := packageUses(t)
	// The analysis must see what is there, or it proves nothing: a type, a
	// function, a method, a promoted field and a generic method, across
	// files, each way the layers allow.
	for _, want := range []use{
		{"retry.go", "turnError", "ratelimit.go", true},
		{"retry.go", "newAPIError", "errors.go", false},
		{"errors.go", "redactString", "redact.go", false},
		{"opal.go", "libraryTransport", "transport.go", false},
		{"iterator.go", "get", "opal.go", false},
		{"opal.go", "limiter", "retry.go", false},
		{"sessions.go", "allOf", "iterator.go", false},
		{"opal.go", "SessionsService", "sessions.go", true},
	} {
		if !slices.Contains(uses, want) {
			t.Errorf("the analysis misses %s using %s of %s", want.file, want.name, want.definedIn)
		}
	}
	for _, u := range uses {
		if layerOf(u.definedIn) <= layerOf(u.file) {
			continue
		}
		if u.file == "opal.go" && u.isType && strings.HasSuffix(u.name, "Service") && layerOf(u.definedIn) == len(layers) {
			continue // a service that hangs off the Client
		}
		t.Errorf("%s uses %s, defined in %s, a layer above it", u.file, u.name, u.definedIn)
	}
}
