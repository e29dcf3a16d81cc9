// Package store keeps what users set at runtime (accepted chargers, modes,
// last setpoints) in one JSON file that survives restarts and container
// re-creation. Writes are atomic (temporary file, fsync, rename), so a crash
// never leaves half a file; a file that is corrupt anyway is set aside and
// reported, never fatal.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Store is a set of named JSON sections in one file. It is safe for
// concurrent use.
type Store struct {
	path string
	log  *slog.Logger

	mu       sync.Mutex
	sections map[string]json.RawMessage
	// writable is false after a failed write: the store keeps working in
	// memory and says so once, rather than failing every change.
	writeErr error
}

// file is the on-disk shape; the version lets a later evbridge migrate.
type file struct {
	Version  int                        `json:"version"`
	Saved    string                     `json:"saved"`
	Sections map[string]json.RawMessage `json:"sections"`
}

const version = 1

// Open reads path. A missing file is an empty store. A corrupt file is
// renamed to path.corrupt-<time> and reported in the returned warning; the
// store then starts empty. Only an unusable directory is an error.
func Open(path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Store{path: path, log: log, sections: map[string]json.RawMessage{}}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil || f.Version < 1 || f.Sections == nil {
		if err == nil {
			err = errors.New("not an evbridge state file")
		}
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("state file %s is corrupt (%v) and could not be set aside: %w", path, err, rerr)
		}
		log.Warn("state file is corrupt; set aside, starting with empty state", "file", path, "moved_to", aside, "err", err)
		return s, nil
	}
	if f.Version > version {
		log.Warn("state file was written by a newer evbridge; reading what this version understands", "file", path, "version", f.Version)
	}
	s.sections = f.Sections
	return s, nil
}

// Path is the file the store writes.
func (s *Store) Path() string { return s.path }

// Load decodes section key into v; it reports false when the section is
// absent. A section that does not decode into v is an error naming it.
func (s *Store) Load(key string, v any) (bool, error) {
	s.mu.Lock()
	raw, ok := s.sections[key]
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("state section %q: %w", key, err)
	}
	return true, nil
}

// Save stores v as section key and writes the file atomically. When the
// file cannot be written the value is kept in memory and the error
// returned (and logged once).
func (s *Store) Save(key string, v any) error {
	return s.Update(key, func() any { return v })
}

// Update is Save with the value taken by current while the store is
// locked, for callers that snapshot shared state: two goroutines saving
// the same section are then written in the order they took their
// snapshots, so an older snapshot never overwrites a newer one. current
// must not call the store.
func (s *Store) Update(key string, current func() any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := json.Marshal(current())
	if err != nil {
		return fmt.Errorf("state section %q: %w", key, err)
	}
	if bytes.Equal(s.sections[key], raw) {
		return nil
	}
	s.sections[key] = raw
	err = s.writeLocked()
	if err != nil && s.writeErr == nil {
		s.log.Error("cannot write state file; runtime changes will not survive a restart", "file", s.path, "err", err)
	}
	if err == nil && s.writeErr != nil {
		s.log.Info("state file writable again", "file", s.path)
	}
	s.writeErr = err
	return err
}

func (s *Store) writeLocked() error {
	data, err := json.MarshalIndent(file{Version: version, Saved: time.Now().UTC().Format(time.RFC3339), Sections: s.sections}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".state-*.tmp")
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
