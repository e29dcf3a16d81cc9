package discover

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/evbridge/evbridge/bridge/charger"
)

// ConfigSnippet returns ready-to-paste YAML `chargers:` entries (name,
// driver, address) for the chargers in fs, using the drivers registered
// in charger.Default. Names are <driver>_<serial>, valid and unique.
// Chargers whose identity was not read, or that have no driver in this
// build, are included as comments; meters are listed as comments.
func ConfigSnippet(fs []Found) string { return configSnippet(fs, charger.Default) }

func configSnippet(fs []Found, reg *charger.Registry) string {
	var b strings.Builder
	b.WriteString("chargers:\n")
	used := map[string]bool{}
	var chargers, others int
	for _, f := range fs {
		if f.Kind != KindCharger {
			continue
		}
		drv, ok := reg.Lookup(f.Driver)
		prefix, why := "", ""
		switch {
		case !f.Verified():
			prefix, why = "# ", f.Note
		case !ok:
			prefix, why = "# ", "no "+clean(f.Driver)+" driver in this build"
		}
		name := uniqueName(configName(f), used)
		fmt.Fprintf(&b, "%s  - name: %s\n", prefix, name)
		fmt.Fprintf(&b, "%s    driver: %s\n", prefix, clean(f.Driver))
		fmt.Fprintf(&b, "%s    address: %s # %s\n", prefix, strconv.Quote(configAddress(f.Address, drv.DefaultPort)), describe(f))
		if why != "" {
			fmt.Fprintf(&b, "    # ^ %s\n", clip(why, 160))
			others++
		} else {
			chargers++
		}
	}
	if chargers+others == 0 {
		b.WriteString("  # no chargers found\n")
	}
	for _, f := range fs {
		if f.Kind == KindCharger {
			continue
		}
		fmt.Fprintf(&b, "# %s at %s (%s): %s\n", f.Kind, clean(f.Address), clean(f.Driver), describe(f))
	}
	return b.String()
}

// describe is the one-line identity comment of a find.
func describe(f Found) string {
	s := strings.TrimSpace(clean(f.Brand) + " " + clean(f.Model))
	if f.Serial != "" {
		s += ", serial " + clean(f.Serial)
	}
	if f.Firmware != "" {
		s += ", firmware " + clean(f.Firmware)
	}
	return s + ", found by " + clean(f.FoundBy)
}

// configAddress drops the port when it is the driver's default, as a
// person would write it.
func configAddress(addr string, defaultPort int) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || defaultPort <= 0 || port != strconv.Itoa(defaultPort) {
		return clean(addr)
	}
	return clean(host)
}

// configName is <driver>_<serial> (or <driver>_<host>) in the config's
// name alphabet: lowercase letters, digits and underscores, starting with
// a letter or digit, at most 64 characters.
func configName(f Found) string {
	id := f.Serial
	if id == "" {
		id, _, _ = net.SplitHostPort(f.Address)
	}
	var b strings.Builder
	last := byte('_')
	for _, c := range []byte(strings.ToLower(f.Driver + "_" + id)) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			last = c
		} else if last != '_' {
			b.WriteByte('_')
			last = '_'
		}
	}
	name := strings.Trim(b.String(), "_")
	if len(name) > 60 { // room for a _NN suffix
		name = strings.TrimRight(name[:60], "_")
	}
	if name == "" {
		name = "charger"
	}
	return name
}

func uniqueName(name string, used map[string]bool) string {
	n := name
	for i := 2; used[n]; i++ {
		n = name + "_" + strconv.Itoa(i)
	}
	used[n] = true
	return n
}

// WriteTable prints fs as an aligned table for people.
func WriteTable(w io.Writer, fs []Found) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	notes := false
	for _, f := range fs {
		notes = notes || f.Note != ""
	}
	head := "ADDRESS\tBRAND\tMODEL\tSERIAL\tFIRMWARE\tFOUND BY\tDRIVER"
	if notes {
		head += "\tNOTE"
	}
	fmt.Fprintln(tw, head)
	dash := func(s string) string {
		if s = clean(s); s == "" {
			return "-"
		}
		return s
	}
	for _, f := range fs {
		row := strings.Join([]string{dash(f.Address), dash(f.Brand), dash(f.Model), dash(f.Serial),
			dash(f.Firmware), dash(f.FoundBy), dash(f.Driver)}, "\t")
		if notes {
			row += "\t" + clip(f.Note, 80)
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

// WriteJSON prints fs as a JSON array ([] when empty), for scripts.
func WriteJSON(w io.Writer, fs []Found) error {
	if fs == nil {
		fs = []Found{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(fs)
}
