package store

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type modes struct {
	Modes map[string]string `json:"modes"`
}

func TestSaveLoadAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	s, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Load("modes", &modes{}); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	if err := s.Save("modes", modes{Modes: map[string]string{"garage": "pv"}}); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var got modes
	if ok, err := s2.Load("modes", &got); !ok || err != nil || got.Modes["garage"] != "pv" {
		t.Fatalf("after restart: ok=%v err=%v got=%v", ok, err, got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestCorruptFileIsSetAside(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":   "{not json",
		"truncated": `{"version":1,"sections":{"modes":{"mo`,
		"foreign":   `{"hello":"world"}`,
		"empty":     "",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			os.WriteFile(path, []byte(content), 0o600)
			s, err := Open(path, quiet)
			if err != nil {
				t.Fatalf("corrupt file must not be fatal: %v", err)
			}
			if ok, _ := s.Load("modes", &modes{}); ok {
				t.Fatal("corrupt file's content was used")
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "state.json.corrupt-") {
				t.Fatalf("corrupt file not set aside: %v", entries)
			}
			if err := s.Save("modes", modes{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWrongShapeIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, _ := Open(path, quiet)
	s.Save("modes", []int{1, 2})
	if _, err := s.Load("modes", &modes{}); err == nil || !strings.Contains(err.Error(), `"modes"`) {
		t.Fatalf("want an error naming the section, got %v", err)
	}
}

func TestUnwritableDirectoryKeepsWorkingInMemory(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a path under a file instead.
		dir := t.TempDir()
		blocker := filepath.Join(dir, "file")
		os.WriteFile(blocker, nil, 0o600)
		if _, err := Open(filepath.Join(blocker, "state.json"), quiet); err == nil {
			t.Fatal("a state path below a regular file must be an error")
		}
		return
	}
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "state.json"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if err := s.Save("modes", modes{Modes: map[string]string{"a": "now"}}); err == nil {
		t.Fatal("want a write error")
	}
	var got modes
	if ok, _ := s.Load("modes", &got); !ok || got.Modes["a"] != "now" {
		t.Fatal("value lost after a failed write")
	}
}

// Update takes its value while the store is locked, so two goroutines
// saving one section land in the order of their snapshots: the older
// snapshot, though slower to arrive, cannot overwrite the newer one.
func TestUpdateWritesInSnapshotOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	olderTaken, release, olderDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(olderDone)
		_ = s.Update("modes", func() any {
			close(olderTaken)
			<-release
			return modes{Modes: map[string]string{"garage": "older"}}
		})
	}()
	<-olderTaken
	newerDone := make(chan struct{})
	go func() {
		defer close(newerDone)
		_ = s.Update("modes", func() any { return modes{Modes: map[string]string{"garage": "newer"}} })
	}()
	select {
	case <-newerDone:
		t.Error("an Update finished while another one held its snapshot")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-olderDone
	<-newerDone
	s2, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var got modes
	if _, err := s2.Load("modes", &got); err != nil || got.Modes["garage"] != "newer" {
		t.Errorf("file holds %v (%v); want the newer snapshot", got.Modes, err)
	}
}
