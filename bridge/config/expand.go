package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxSecretFile bounds what ${file:...} reads, so a path such as
// /dev/zero cannot exhaust memory.
const maxSecretFile = 1 << 20

// expand replaces ${...} references in every scalar value under n. Keys,
// comments and aliases are left alone; an anchored value is expanded once,
// where it is defined. Relative ${file:...} paths are taken from baseDir.
func (d *decoder) expand(n *yaml.Node, path, baseDir string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			d.expand(c, path, baseDir)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			d.expand(c, fmt.Sprintf("%s[%d]", path, i), baseDir)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.expand(n.Content[i+1], join(path, n.Content[i].Value), baseDir)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		out, err := expandString(n.Value, baseDir)
		if err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		if out == n.Value {
			return
		}
		d.expanded[n] = n.Value
		n.Value = out
		const explicit = yaml.TaggedStyle | yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle |
			yaml.LiteralStyle | yaml.FoldedStyle
		if n.Style&explicit == 0 {
			// A plain scalar takes the type its new text implies, as if
			// written in the file: port: ${PORT} is a number. Only an
			// empty result means null (keep the default); a secret that
			// reads "null" stays that string.
			n.Tag = ""
			if out != "" && n.ShortTag() == "!!null" {
				n.Tag = "!!str"
			}
		}
	}
}

// expandString replaces ${VAR}, ${VAR:-default} and ${file:path} in s and
// turns $$ into $. A $ followed by anything else is kept as it is.
func expandString(s, baseDir string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(s[i])
			i++
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", fmt.Errorf(`unterminated "${" (write "$$" for a literal "$")`)
		}
		val, err := lookup(s[i+2:i+2+end], baseDir)
		if err != nil {
			return "", err
		}
		b.WriteString(val)
		i += 2 + end + 1
	}
	return b.String(), nil
}

// lookup resolves the inside of one ${...}.
func lookup(expr, baseDir string) (string, error) {
	if path, ok := strings.CutPrefix(expr, "file:"); ok {
		return readSecret(path, baseDir)
	}
	name, def, hasDef := strings.Cut(expr, ":-")
	if !validVarName(name) {
		return "", fmt.Errorf("invalid variable name %q in ${%s} (write $$ for a literal $)", name, expr)
	}
	if strings.Contains(def, "${") {
		return "", fmt.Errorf("nested ${...} in the default of ${%s} is not supported", name)
	}
	val, ok := os.LookupEnv(name)
	switch {
	case hasDef && val == "":
		return def, nil
	case !ok:
		return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name)
	}
	return val, nil
}

func validVarName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// readSecret returns the content of a regular file without its trailing
// newlines, as secrets are usually written by echo or an editor.
func readSecret(path, baseDir string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("${file:} needs a path, e.g. ${file:/run/secrets/mqtt_password}")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	// Stat before opening: opening a FIFO such as /dev/stdin would block.
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("cannot read secret file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("secret file %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read secret file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("cannot read secret file %s: %w", path, err)
	}
	if len(data) > maxSecretFile {
		return "", fmt.Errorf("secret file %s is larger than %d bytes", path, maxSecretFile)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}
