package deploy

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// ignorePatterns reads .dockerignore as regular expressions on slash
// paths relative to the context. It supports what the file uses: *, ?,
// a leading **/ and a leading /; anything else fails the test, so the
// check never silently differs from Docker's.
func ignorePatterns(t *testing.T) []*regexp.Regexp {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var res []*regexp.Regexp
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") || strings.ContainsAny(p, "[]\\") || strings.Count(p, "**") > 1 {
			t.Fatalf(".dockerignore pattern %q: not supported by this test's matcher; extend it", p)
		}
		p = strings.Trim(p, "/")
		var b strings.Builder
		b.WriteString("^")
		if rest, ok := strings.CutPrefix(p, "**/"); ok {
			b.WriteString("(?:.*/)?")
			p = rest
		}
		for _, r := range p {
			switch r {
			case '*':
				b.WriteString("[^/]*")
			case '?':
				b.WriteString("[^/]")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		b.WriteString("$")
		res = append(res, regexp.MustCompile(b.String()))
	}
	return res
}

func ignored(pats []*regexp.Regexp, rel string) bool {
	for p := rel; p != "." && p != ""; p = filepath.ToSlash(filepath.Dir(p)) {
		for _, re := range pats {
			if re.MatchString(p) {
				return true
			}
		}
	}
	return false
}

// buildContext copies the repository into a temporary directory the way
// `docker build .` sends it: without what .dockerignore excludes.
func buildContext(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	copyContext(t, dst)
	return dst
}

func copyContext(t *testing.T, dst string) {
	t.Helper()
	pats := ignorePatterns(t)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignored(pats, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestDockerignore(t *testing.T) {
	pats := ignorePatterns(t)
	for _, keep := range []string{"go.mod", "go.sum", "cmd/evbridge/main.go", "deploy/container.yaml", "Dockerfile"} {
		if ignored(pats, keep) {
			t.Errorf(".dockerignore drops %s, which the build needs", keep)
		}
	}
	for _, drop := range []string{".git/HEAD", "evbridge", "bin/evbridge", "bridge/bridge_test.go", "drivers/goe/testdata/x.json", "ha/addon/icon.png"} {
		if !ignored(pats, drop) {
			t.Errorf(".dockerignore keeps %s in the build context", drop)
		}
	}
}

// platform is a target of the multi-arch build.
type platform struct{ os, arch, variant string }

func (p platform) String() string {
	return strings.TrimSuffix(p.os+"/"+p.arch+"/"+p.variant, "/")
}

// buildAs runs the Dockerfile's go build for p in ctxDir, with its
// environment assignments and flags, the output going to dir.
func buildAs(t *testing.T, ctxDir, dir string, p platform) string {
	t.Helper()
	build := findStage(t, parseDockerfile(t), "build")
	assign, goArgs, _ := goBuild(t, build, envMap{"TARGETOS": p.os, "TARGETARCH": p.arch, "TARGETVARIANT": p.variant, "VERSION": "1.2.3-test"})
	out := filepath.Join(dir, "evbridge")
	for i, a := range goArgs {
		if a == "-o" {
			goArgs[i+1] = out
		}
	}
	cmd := exec.Command("go", append([]string{"build"}, goArgs[1:]...)...)
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), assign...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for %s with the Dockerfile's flags %v %v: %v\n%s", p, assign, goArgs, err, b)
	}
	return out
}

// checkBinary reads the build settings the Go toolchain stamped in.
func checkBinary(t *testing.T, path string, p platform) {
	t.Helper()
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": p.os, "GOARCH": p.arch}
	if p.arch == "arm" {
		want["GOARM"] = strings.TrimPrefix(p.variant, "v")
	}
	got := map[string]string{}
	for _, s := range bi.Settings {
		got[s.Key] = s.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: build setting %s = %q, want %q", p, k, got[k], v)
		}
	}
	// -trimpath keeps -ldflags out of the build info; the stamped version
	// is in the binary's data.
	if data, err := os.ReadFile(path); err != nil || !bytes.Contains(data, []byte("1.2.3-test")) {
		t.Errorf("%s: version 1.2.3-test not stamped in (%v)", p, err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM}[p.arch]
	if f.Machine != machine {
		t.Errorf("%s: ELF machine %v, want %v", p, f.Machine, machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s: the binary is dynamically linked; the distroless static image cannot run it", p)
		}
	}
	if s := f.Section(".symtab"); s != nil {
		t.Errorf("%s: symbol table present; -s should strip it", p)
	}
}

// The binary the image ships, built from the Docker build context with the
// Dockerfile's own flags, runs: version, check-config of the image's
// fallback config and of config.example.yaml, and a failing healthcheck.
func TestDockerfileBuildAndRun(t *testing.T) {
	bin, ctxDir := imageBinary(t)

	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(nil, "version"); err != nil || strings.TrimSpace(out) != "evbridge 1.2.3-test" {
		t.Errorf("version: %q, %v", out, err)
	}
	fallback := filepath.Join(ctxDir, "deploy", "container.yaml")
	if out, err := run(nil, "check-config", "-c", fallback); err != nil || !strings.Contains(out, "embedded, listening on 0.0.0.0:1883") {
		t.Errorf("check-config of the image's defaults: %q, %v", out, err)
	}
	if out, err := run([]string{"MQTT_BROKER=tcp://192.0.2.10:1883", "MQTT_USERNAME=evbridge", "MQTT_PASSWORD=pw"},
		"check-config", "-c", fallback); err != nil || !strings.Contains(out, "broker: tcp://192.0.2.10:1883") {
		t.Errorf("check-config of the image's defaults with MQTT_BROKER: %q, %v", out, err)
	}
	example := filepath.Join(root, "config.example.yaml")
	if out, err := run(nil, "check-config", "-c", example); err != nil {
		t.Errorf("check-config of config.example.yaml: %q, %v", out, err)
	}
	if out, err := run(nil, "healthcheck", "--url", "http://127.0.0.1:1/healthz"); err == nil || !strings.Contains(out, "unhealthy") {
		t.Errorf("healthcheck with nothing listening: %q, %v", out, err)
	}
}

var image struct {
	once        sync.Once
	bin, ctxDir string
}

// imageBinary builds the linux/amd64 binary the image ships, once per test
// run, from the Docker build context with the Dockerfile's flags, and
// checks its build settings.
func imageBinary(t *testing.T) (bin, ctxDir string) {
	t.Helper()
	image.once.Do(func() {
		dir, err := os.MkdirTemp("", "evbridge-image-*")
		if err != nil {
			t.Fatal(err)
		}
		image.ctxDir = filepath.Join(dir, "context")
		copyContext(t, image.ctxDir)
		amd64 := platform{"linux", "amd64", ""}
		image.bin = buildAs(t, image.ctxDir, dir, amd64)
		checkBinary(t, image.bin, amd64)
	})
	if image.bin == "" {
		t.Fatal("the image's binary did not build")
	}
	return image.bin, image.ctxDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if image.bin != "" {
		os.RemoveAll(filepath.Dir(image.bin))
	}
	os.Exit(code)
}

// The other platforms of the multi-arch image cross-compile.
func TestDockerfileCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiling takes a while")
	}
	ctxDir := buildContext(t)
	for _, p := range []platform{{"linux", "arm64", ""}, {"linux", "arm", "v7"}} {
		t.Run(strings.ReplaceAll(p.String(), "/", "_"), func(t *testing.T) {
			t.Parallel()
			checkBinary(t, buildAs(t, ctxDir, t.TempDir(), p), p)
		})
	}
}
