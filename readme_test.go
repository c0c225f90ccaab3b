package tradebus_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeGoBlocksAreRun: every ```go block of the README is a piece of
// a test file that go test compiles and runs — an Example with an
// "// Output:" comment, a Test function, or the declarations they use —
// named by a marker on the line before the block:
//
//	<!-- mirrors: tradebustest/strategy_test.go -->
//
// The block must appear in that file line for line (function bodies one
// or more tabs deeper). A new block without a marker, a marker naming a
// file that lacks the block, or a block outside what go test runs fails.
func TestReadmeGoBlocksAreRun(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	n, errs := checkReadme(string(readme), os.ReadFile)
	for _, err := range errs {
		t.Error(err)
	}
	if n < 4 {
		t.Errorf("README has %d go blocks; Quickstart, composing, testing and custom events have at least 4", n)
	}
}

// TestReadmeCheckerCatches: the checker above fails on each way a README
// block can drift from the code.
func TestReadmeCheckerCatches(t *testing.T) {
	files := map[string]string{
		"a_test.go": "package a\n\ntype T struct{}\n\nfunc helper() {\n\tx := 1\n}\n\nfunc ExampleT() {\n\tfmt.Println(\"hi\")\n\tfmt.Println(\"there\")\n\t// Output:\n\t// hi\n\t// there\n}\n\nfunc ExampleNoOutput() {\n\tfmt.Println(\"quiet\")\n}\n\nfunc TestT(t *testing.T) {\n\tt.Log(\"x\")\n}\n",
		"a.go":      "package a\n\nfunc F() {}\n",
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	block := func(marker, code string) string {
		return "text\n" + marker + "\n```go\n" + code + "\n```\n"
	}
	for name, c := range map[string]struct {
		readme string
		want   string // "" = no error
	}{
		"example body":       {block("<!-- mirrors: a_test.go -->", "fmt.Println(\"hi\")\nfmt.Println(\"there\")"), ""},
		"test body":          {block("<!-- mirrors: a_test.go -->", "t.Log(\"x\")"), ""},
		"type declaration":   {block("<!-- mirrors: a_test.go -->", "type T struct{}"), ""},
		"no marker":          {block("", "fmt.Println(\"hi\")"), "no <!-- mirrors: file_test.go --> marker"},
		"not a test file":    {block("<!-- mirrors: a.go -->", "func F() {}"), "not a _test.go file"},
		"missing file":       {block("<!-- mirrors: b_test.go -->", "x"), "b_test.go"},
		"drifted":            {block("<!-- mirrors: a_test.go -->", "fmt.Println(\"hello\")"), "does not appear"},
		"lines out of order": {block("<!-- mirrors: a_test.go -->", "fmt.Println(\"there\")\nfmt.Println(\"hi\")"), "does not appear"},
		"helper, not run":    {block("<!-- mirrors: a_test.go -->", "x := 1"), "not in an Example with output"},
		"example no output":  {block("<!-- mirrors: a_test.go -->", "fmt.Println(\"quiet\")"), "not in an Example with output"},
	} {
		_, errs := checkReadme(c.readme, read)
		switch {
		case c.want == "" && len(errs) > 0:
			t.Errorf("%s: unexpected %v", name, errs)
		case c.want != "" && (len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), c.want)):
			t.Errorf("%s: errors %v, want one containing %q", name, errs, c.want)
		}
	}
}

var mirrorMarker = regexp.MustCompile(`^<!-- mirrors: (\S+) -->$`)

// checkReadme checks every go block of readme (see
// TestReadmeGoBlocksAreRun) and returns how many there are.
func checkReadme(readme string, read func(string) ([]byte, error)) (int, []error) {
	lines := strings.Split(readme, "\n")
	var errs []error
	n := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```go" {
			continue
		}
		n++
		start := i + 1
		end := start
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		code := lines[start:end]
		i = end
		var m []string
		if start >= 2 {
			m = mirrorMarker.FindStringSubmatch(strings.TrimSpace(lines[start-2]))
		}
		if m == nil {
			errs = append(errs, fmt.Errorf("README line %d: go block has no <!-- mirrors: file_test.go --> marker on the line before", start))
			continue
		}
		path := m[1]
		if !strings.HasSuffix(path, "_test.go") {
			errs = append(errs, fmt.Errorf("README line %d: %s is not a _test.go file (go test runs only those)", start, path))
			continue
		}
		src, err := read(filepath.FromSlash(path))
		if err != nil {
			errs = append(errs, fmt.Errorf("README line %d: %s: %w", start, path, err))
			continue
		}
		if err := mirrored(path, string(src), code); err != nil {
			errs = append(errs, fmt.Errorf("README line %d: %w", start, err))
		}
	}
	return n, errs
}

// mirrored reports whether code appears in src line for line, every line
// indented by the same number of tabs, inside what go test runs.
func mirrored(path, src string, code []string) error {
	fileLines := strings.Split(src, "\n")
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return err
	}
	for first := range fileLines {
		for tabs := 0; tabs <= 3; tabs++ {
			if !matchesAt(fileLines, first, code, strings.Repeat("\t", tabs)) {
				continue
			}
			// Lines first+1 .. first+len(code) (1-based) in the file.
			if err := runnable(f, fset, first+1, first+len(code)); err != nil {
				return fmt.Errorf("%s line %d: %w", path, first+1, err)
			}
			return nil
		}
	}
	return fmt.Errorf("the go block (%d lines, from %q) does not appear in %s", len(code), firstLine(code), path)
}

func matchesAt(file []string, first int, code []string, indent string) bool {
	if first+len(code) > len(file) {
		return false
	}
	for j, l := range code {
		want := indent + l
		if l == "" {
			want = ""
		}
		if file[first+j] != want {
			return false
		}
	}
	return true
}

// runnable checks that lines from..to of f lie inside an Example with an
// output comment, a Test function, or top-level declarations.
func runnable(f *ast.File, fset *token.FileSet, from, to int) error {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		bodyFrom, bodyTo := fset.Position(fd.Body.Lbrace).Line+1, fset.Position(fd.Body.Rbrace).Line-1
		if from < bodyFrom || to > bodyTo {
			continue // not inside this body (a whole declaration is fine)
		}
		name := fd.Name.Name
		switch {
		case strings.HasPrefix(name, "Test"):
			return nil
		case strings.HasPrefix(name, "Example") && hasOutput(f, fset, fd):
			return nil
		}
		return fmt.Errorf("the go block is inside %s, not in an Example with output or a Test", name)
	}
	return nil
}

func hasOutput(f *ast.File, fset *token.FileSet, fd *ast.FuncDecl) bool {
	for _, cg := range f.Comments {
		if cg.Pos() > fd.Body.Lbrace && cg.End() < fd.Body.Rbrace {
			for _, c := range cg.List {
				if strings.HasPrefix(c.Text, "// Output:") || strings.HasPrefix(c.Text, "// Unordered output:") {
					return true
				}
			}
		}
	}
	return false
}

func firstLine(code []string) string {
	if len(code) == 0 {
		return ""
	}
	return code[0]
}
