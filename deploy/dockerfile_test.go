package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// root is the repository root, relative to this package.
const root = ".."

// stage is one FROM of the Dockerfile and the instructions under it.
type stage struct {
	name, image string
	flags       []string
	cmds        []*parser.Node
}

// cmd returns the stage's instructions called name (lowercase).
func (s stage) cmd(name string) []*parser.Node {
	var out []*parser.Node
	for _, n := range s.cmds {
		if strings.EqualFold(n.Value, name) {
			out = append(out, n)
		}
	}
	return out
}

// args returns the values of n's arguments.
func args(n *parser.Node) []string {
	var out []string
	for x := n.Next; x != nil; x = x.Next {
		out = append(out, x.Value)
	}
	return out
}

// parseDockerfile parses the Dockerfile with BuildKit's parser, the one
// `docker build` uses, and splits it into stages.
func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile does not parse: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile parser warning: %s", w.Short)
	}
	var stages []stage
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "from") {
			a := args(n)
			s := stage{image: a[0], flags: n.Flags}
			if len(a) == 3 && strings.EqualFold(a[1], "as") {
				s.name = a[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if !strings.EqualFold(n.Value, "arg") {
				t.Errorf("%s before the first FROM", n.Original)
			}
			continue
		}
		stages[len(stages)-1].cmds = append(stages[len(stages)-1].cmds, n)
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage Dockerfile, got %d stages", len(stages))
	}
	return stages
}

func findStage(t *testing.T, stages []stage, name string) stage {
	t.Helper()
	for _, s := range stages {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no stage %q", name)
	return stage{}
}

// envMap is an environment for shell.Lex.
type envMap map[string]string

func (e envMap) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e envMap) Keys() []string {
	var ks []string
	for k := range e {
		ks = append(ks, k)
	}
	return ks
}

// goBuild finds the RUN line that runs `go build` and expands it as the
// shell in the builder would, with env as the build arguments. It returns
// the variable assignments before `go` and the arguments after it.
func goBuild(t *testing.T, s stage, env envMap) (assign, goArgs []string, run *parser.Node) {
	t.Helper()
	for _, n := range s.cmd("run") {
		line := strings.Join(args(n), " ")
		if !strings.Contains(line, "go build") {
			continue
		}
		if strings.ContainsAny(line, ";&|") {
			t.Fatalf("the go build RUN line must be one command, so its flags can be checked: %s", line)
		}
		// Lex.ProcessWords mangles ${VAR#prefix}; ProcessWord does not,
		// so the line is split into shell words first.
		var words []string
		for _, w := range splitWords(line) {
			x, _, err := shell.NewLex('\\').ProcessWord(w, env)
			if err != nil {
				t.Fatalf("expand %q: %v", w, err)
			}
			words = append(words, x)
		}
		i := slices.Index(words, "go")
		if i < 0 || i+1 >= len(words) || words[i+1] != "build" {
			t.Fatalf("no `go build` in %q", words)
		}
		for _, w := range words[:i] {
			if !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(w) {
				t.Fatalf("%q before go build is not a variable assignment", w)
			}
		}
		return words[:i], words[i+1:], n
	}
	t.Fatal("no RUN line with go build in the build stage")
	return nil, nil, nil
}

// splitWords splits a shell command line at blanks outside quotes,
// keeping the quotes for the expansion.
func splitWords(line string) []string {
	var words []string
	var cur strings.Builder
	var quote rune
	escaped := false
	for _, r := range line {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case quote == 0 && (r == ' ' || r == '\t' || r == '\n'):
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}

// flagValue returns the value of -name in go build arguments.
func flagValue(goArgs []string, name string) (string, bool) {
	for i, a := range goArgs {
		if a == name && i+1 < len(goArgs) {
			return goArgs[i+1], true
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

var pinnedGo = regexp.MustCompile(`^golang:(1\.\d+\.\d+)-[a-z]+$`)

func TestDockerfileInvariants(t *testing.T) {
	stages := parseDockerfile(t)
	names := map[string]bool{}
	for _, s := range stages {
		img := s.image
		switch {
		case names[img], img == "scratch":
		case strings.Contains(img, "$"):
			t.Errorf("FROM %s: base images are written out, not taken from build arguments", img)
		case strings.Contains(img, "@sha256:"):
		case !strings.Contains(img[strings.LastIndex(img, "/")+1:], ":"):
			t.Errorf("FROM %s: no tag, which means latest; pin a version", img)
		case strings.HasSuffix(img, ":latest"):
			t.Errorf("FROM %s: pin a version instead of latest", img)
		}
		if s.name != "" {
			names[s.name] = true
		}
	}

	build := findStage(t, stages, "build")
	m := pinnedGo.FindStringSubmatch(build.image)
	if m == nil {
		t.Fatalf("builder %s: want golang:1.x.y-<debian release>, a pinned Go version", build.image)
	}
	if want := goModVersion(t); versionLess(m[1], want) {
		t.Errorf("builder Go %s is older than go.mod's go %s", m[1], want)
	}
	if !slices.Contains(build.flags, "--platform=$BUILDPLATFORM") {
		t.Errorf("builder FROM flags %v: want --platform=$BUILDPLATFORM to cross-compile without emulation", build.flags)
	}
	var declared []string
	for _, n := range build.cmd("arg") {
		declared = append(declared, strings.SplitN(args(n)[0], "=", 2)[0])
	}
	for _, a := range []string{"TARGETOS", "TARGETARCH", "TARGETVARIANT", "VERSION"} {
		if !slices.Contains(declared, a) {
			t.Errorf("build stage does not declare ARG %s", a)
		}
	}
	env := envMap{"TARGETOS": "linux", "TARGETARCH": "arm", "TARGETVARIANT": "v7", "VERSION": "9.8.7"}
	assign, goArgs, _ := goBuild(t, build, env)
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7"} {
		if !slices.Contains(assign, want) {
			t.Errorf("go build environment %v lacks %s (for linux/arm/v7)", assign, want)
		}
	}
	if !slices.Contains(goArgs, "-trimpath") {
		t.Errorf("go build %v: no -trimpath", goArgs)
	}
	if ld, _ := flagValue(goArgs, "-ldflags"); !strings.Contains(ld, "-s -w") || !strings.Contains(ld, "-X main.version=9.8.7") {
		t.Errorf("go build -ldflags %q: want -s -w and -X main.version=${VERSION}", ld)
	}
	if mk := makefileLDFlags(t); !strings.Contains(mk, "-s -w -X main.version=") {
		t.Errorf("Makefile LDFLAGS %q differ from the Dockerfile's (make build promises the same binary)", mk)
	}

	final := stages[len(stages)-1]
	if final.name != "" && final.name == "build" {
		t.Fatal("the last stage, built by default, must be the runtime image")
	}
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") && final.image != "scratch" {
		t.Errorf("final image %s: want distroless static or scratch", final.image)
	}
	users := final.cmd("user")
	if len(users) == 0 {
		t.Fatal("final stage sets no USER")
	}
	if u := args(users[len(users)-1])[0]; isRoot(u) {
		t.Errorf("final stage runs as %s; want a non-root user", u)
	}
	exposed := map[string]bool{}
	for _, n := range final.cmd("expose") {
		for _, p := range args(n) {
			exposed[strings.TrimSuffix(p, "/tcp")] = true
		}
	}
	for _, p := range []string{"1883", "8080", "8887"} {
		if !exposed[p] {
			t.Errorf("final stage does not EXPOSE %s", p)
		}
	}
	if v := final.cmd("volume"); len(v) == 0 || !slices.Contains(args(v[0]), "/data") {
		t.Error("final stage has no VOLUME /data")
	}
	cmd := final.cmd("cmd")
	if len(cmd) == 0 || !slices.Equal(args(cmd[0])[:3], []string{"run", "-c", "/data/config.yaml"}) {
		t.Errorf("final CMD: want run -c /data/config.yaml ...")
	} else if fb, ok := flagValue(args(cmd[0]), "--fallback"); !ok || !copiedTo(final, "deploy/container.yaml", fb) {
		t.Errorf("final CMD's --fallback %q is not deploy/container.yaml copied into the image", fb)
	}

	addon := findStage(t, stages, "addon")
	for _, s := range []stage{final, addon} {
		hc := s.cmd("healthcheck")
		if len(hc) != 1 || !slices.Equal(args(hc[0]), []string{"CMD", "/evbridge", "healthcheck"}) || hc[0].Attributes["json"] != true {
			t.Errorf("stage %q: want HEALTHCHECK CMD [\"/evbridge\", \"healthcheck\"]", s.name)
		}
		if ep := s.cmd("entrypoint"); len(ep) != 1 || !slices.Equal(args(ep[0]), []string{"/evbridge"}) {
			t.Errorf("stage %q: want ENTRYPOINT [\"/evbridge\"]", s.name)
		}
		if !copiedTo(s, "/out/evbridge", "/evbridge") {
			t.Errorf("stage %q does not copy the binary built in the build stage", s.name)
		}
	}
	if labels := strings.Join(args(addon.cmd("label")[0]), " "); !strings.Contains(labels, `io.hass.type "app"`) {
		t.Errorf("addon stage labels %s: want io.hass.type=\"app\"", labels)
	}
	if cmd := addon.cmd("cmd"); len(cmd) != 1 || !slices.Equal(args(cmd[0]), []string{"run", "--addon"}) {
		t.Error(`addon stage: want CMD ["run", "--addon"]`)
	}
}

func isRoot(user string) bool {
	u := strings.SplitN(user, ":", 2)[0]
	return u == "" || u == "0" || u == "root"
}

// copiedTo reports whether s has a COPY of src to dst.
func copiedTo(s stage, src, dst string) bool {
	for _, n := range s.cmd("copy") {
		a := args(n)
		if len(a) == 2 && a[0] == src && a[1] == dst {
			return true
		}
	}
	return false
}

func goModVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("no go directive in go.mod")
	}
	return string(m[1])
}

func makefileLDFlags(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LDFLAGS\s*:?=\s*(.*)$`).FindSubmatch(data)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// versionLess compares dotted decimal versions.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x = atoi(pa[i])
		}
		if i < len(pb) {
			y = atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
