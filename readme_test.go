package opal_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README is the first code a user copies: every Go block in it must
// compile against the library as it is. A block is one of three kinds:
//
//   - a whole file (it starts with a package clause), built as it is;
//   - declarations (func, type, var, const at the top), built in a package
//     of their own;
//   - statements, built as the body of a function that returns an error.
//
// Blocks other than whole files may use the standard packages and the
// library's packages listed in readmeImports, and the names the README's
// prose gives them (a ctx, a client, a resource ID), declared in
// readmeGivens unless the block declares them itself. A block that imports
// a module this one does not require (an OpenTelemetry snippet, say) is
// only parsed and checked to be gofmt'ed: it cannot be built here.

// readmeImports are the packages a block that is not a whole file may use.
var readmeImports = []string{
	"context", "errors", "fmt", "iter", "log", "log/slog", "net/http", "os", "slices", "strings",
	"sync", "sync/atomic", "testing", "time",
	"github.com/opalclient/opal-go", "github.com/opalclient/opal-go/opaltest",
}

// readmeGivens are the names the README uses without declaring them.
var readmeGivens = map[string]string{
	"ctx":         "var ctx = context.Background()",
	"client":      "var client *opal.Client",
	"resourceID":  `var resourceID = "1b978423-db0a-4037-a4cf-f79c60cb67b3"`,
	"roleID":      `var roleID = "1b978423-db0a-4037-a4cf-f79c60cb67b3"`,
	"countAdmins": "func countAdmins(ctx context.Context, c *opal.Client, resourceID string) (int, error) { return 0, nil }",
}

// goBlocks returns the Go code blocks of a Markdown text, with the line
// each starts on.
func goBlocks(markdown string) (blocks []string, lines []int) {
	fence := regexp.MustCompile("(?m)^```go\n((?s:.*?))^```")
	for _, m := range fence.FindAllStringSubmatchIndex(markdown, -1) {
		blocks = append(blocks, markdown[m[2]:m[3]])
		lines = append(lines, strings.Count(markdown[:m[0]], "\n")+1)
	}
	return blocks, lines
}

// requiredModules are the module paths that go.mod requires, and this one.
func requiredModules(t *testing.T) []string {
	t.Helper()
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mods := []string{"github.com/opalclient/opal-go"}
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]+/\S+)\s+v\S+`).FindAllStringSubmatch(string(gomod), -1) {
		mods = append(mods, m[1])
	}
	return mods
}

// foreign reports whether an import path is neither the standard library's
// nor in a module of go.mod.
func foreign(path string, modules []string) bool {
	first, _, _ := strings.Cut(path, "/")
	if !strings.Contains(first, ".") {
		return false // the standard library
	}
	return !slices.ContainsFunc(modules, func(m string) bool { return path == m || strings.HasPrefix(path, m+"/") })
}

// readmeSource turns a block into a Go file of package pkg, or reports that
// it can only be parsed.
func readmeSource(t *testing.T, block, pkg string, line int, modules []string) (src string, buildable bool) {
	t.Helper()
	fset := token.NewFileSet()
	if strings.HasPrefix(strings.TrimSpace(block), "package ") {
		f, err := parser.ParseFile(fset, "block.go", block, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("does not parse: %v", err)
		}
		for _, imp := range f.Imports {
			if foreign(strings.Trim(imp.Path.Value, `"`), modules) {
				return block, false
			}
		}
		return block, true
	}
	// Declarations parse as a file; statements do not.
	_, err := parser.ParseFile(fset, "block.go", "package p\n"+block, 0)
	body := block
	if err != nil {
		body = "func readmeBlock() error {\n" + block + "\nreturn nil\n}\n"
	}
	// Names the block declares at its top level are not given.
	declared := map[string]bool{}
	if f, err := parser.ParseFile(fset, "block.go", "package p\n"+body, 0); err == nil {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				declared[d.Name.Name] = true
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							declared[n.Name] = true
						}
					case *ast.TypeSpec:
						declared[s.Name.Name] = true
					}
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\nimport (\n", pkg)
	for _, imp := range readmeImports {
		fmt.Fprintf(&b, "\t%q\n", imp)
	}
	b.WriteString(")\n\n")
	// Every import used once, so that a block need not use them all.
	b.WriteString("var (\n\t_ = context.Background\n\t_ = errors.Is\n\t_ = fmt.Sprint\n\t_ iter.Seq[int]\n\t_ = log.Print\n\t_ = slog.Info\n" +
		"\t_ = http.StatusOK\n\t_ = os.Getenv\n\t_ = slices.Sort[[]int]\n\t_ = strings.Cut\n\t_ sync.Mutex\n\t_ atomic.Int64\n" +
		"\t_ testing.T\n\t_ = time.Now\n\t_ opal.Client\n\t_ = opaltest.NewServer\n)\n\n")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for name := range readmeGivens {
			if !yield(name) {
				return
			}
		}
	}) {
		if !declared[name] {
			b.WriteString(readmeGivens[name] + "\n")
		}
	}
	// Errors name the README's lines: the block starts on the line after
	// its fence (statements one line later, below the function's).
	start := line + 1
	if body != block {
		start--
	}
	fmt.Fprintf(&b, "\n//line README.md:%d\n%s", start, body)
	return b.String(), true
}

func TestReadmeCodeBlocksCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every Go block of the README")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, lines := goBlocks(string(readme))
	if len(blocks) == 0 {
		t.Fatal("found no Go block in README.md")
	}
	modules := requiredModules(t)

	// The blocks are built as packages of this module, in a directory of
	// its own inside it, so that they build against the code as it is,
	// with this module's go.mod and go.sum.
	dir, err := os.MkdirTemp(".", "readme-check-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	var packages []string
	for i, block := range blocks {
		t.Run(fmt.Sprintf("line=%d", lines[i]), func(t *testing.T) {
			pkg := fmt.Sprintf("block%d", lines[i])
			src, buildable := readmeSource(t, block, pkg, lines[i], modules)
			if formatted, err := format.Source([]byte(block)); err == nil && !bytes.Equal(formatted, []byte(block)) && strings.HasPrefix(strings.TrimSpace(block), "package ") {
				t.Errorf("README.md:%d: the block is not gofmt'ed", lines[i])
			}
			if !buildable {
				if _, err := parser.ParseFile(token.NewFileSet(), "block.go", src, 0); err != nil {
					t.Errorf("README.md:%d: does not parse: %v", lines[i], err)
				}
				return
			}
			sub := filepath.Join(dir, pkg)
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sub, "block.go"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			packages = append(packages, "./"+filepath.ToSlash(sub))
		})
	}
	if len(packages) == 0 {
		return
	}
	// One go vet for every block at once: it compiles them, and catches
	// what compiles but is wrong (a Printf verb of the wrong type).
	out, err := exec.Command("go", append([]string{"vet"}, packages...)...).CombinedOutput()
	if err != nil {
		t.Errorf("the README's Go blocks do not build:\n%s", out)
	}
}

func TestReadmeListsEveryFuzzTarget(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Fuzz") {
				targets = append(targets, fn.Name.Name)
			}
		}
	}
	if len(targets) == 0 {
		t.Fatal("found no fuzz target")
	}
	for _, target := range targets {
		// As the README's commands give it: -fuzz '^FuzzX$'.
		if !strings.Contains(string(readme), "'^"+target+"$'") {
			t.Errorf("README.md has no command to run %s (-fuzz '^%s$')", target, target)
		}
	}
}
