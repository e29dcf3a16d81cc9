package discover

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/evbridge/evbridge/drivers/goe"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// liar answers every mDNS query in its namespace with the records of
// answers, and sends some garbage datagrams too. It plays a broken or
// hostile device on the segment.
func liar(t *testing.T, lab *netLab, ns, ifName string, answers func() []*dns.Msg) {
	t.Helper()
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	var pc *ipv4.PacketConn
	lab.in(ns, func() error {
		ifi, err := net.InterfaceByName(ifName)
		if err != nil {
			return err
		}
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(224, 0, 0, 0), Port: 5353})
		if err != nil {
			return err
		}
		pc = ipv4.NewPacketConn(c)
		if err := pc.JoinGroup(ifi, group); err != nil {
			return err
		}
		return pc.SetMulticastInterface(ifi)
	})
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 9000)
		for {
			n, _, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var q dns.Msg
			if q.Unpack(buf[:n]) != nil || q.Response {
				continue
			}
			junk := make([]byte, 1200)
			_, _ = rand.Read(junk)
			_, _ = pc.WriteTo(junk, nil, group)
			for _, m := range answers() {
				b, err := m.Pack()
				if err != nil {
					panic(fmt.Sprintf("test records do not pack: %v", err))
				}
				_, _ = pc.WriteTo(b, nil, group)
			}
		}
	}()
}

// announce builds a response announcing instance of service at host/ip.
func announce(service, instance, host string, port uint16, txt []string, ips ...string) *dns.Msg {
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	svc := service + ".local."
	name := instance + "." + svc
	m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(svc, dns.TypePTR), Ptr: name})
	m.Extra = append(m.Extra,
		&dns.SRV{Hdr: hdr(name, dns.TypeSRV), Port: port, Target: host + ".local."},
		&dns.TXT{Hdr: hdr(name, dns.TypeTXT), Txt: txt})
	for _, ip := range ips {
		m.Extra = append(m.Extra, &dns.A{Hdr: hdr(host+".local.", dns.TypeA), A: net.ParseIP(ip)})
	}
	return m
}

func hdr(name string, typ uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET, Ttl: 120}
}

func TestMDNSSurvivesMalformedAndHostileRecords(t *testing.T) {
	lab := newLab(t)
	dev, cli := lab.ns("dev"), lab.ns("cli")
	lab.link(cli, "cli0", "10.82.0.1/24", dev, "dev0", "10.82.0.2/24")
	lab.ip("-n", dev, "addr", "add", "10.82.0.10/24", "dev", "dev0")
	lab.ip("-n", dev, "addr", "add", "10.82.0.11/24", "dev", "dev0")
	startGoe(t, lab, dev, "10.82.0.10:80", "GOOD", true)
	hung := startGoe(t, lab, dev, "10.82.0.11:80", "HUNG", true)
	hung.SetFault(goe.FaultHang)

	const goeSvc = "_go-e_go-eCharger._tcp"
	huge := make([]string, 200)
	for i := range huge {
		huge[i] = fmt.Sprintf("k%d=%s", i, strings.Repeat("\x1b[31mX", 40))
	}
	wrong := new(dns.Msg)
	wrong.Response = true
	wrong.Answer = []dns.RR{&dns.PTR{Hdr: hdr(goeSvc+".local.", dns.TypePTR), Ptr: "wrong." + goeSvc + ".local."}}
	wrong.Extra = []dns.RR{
		&dns.MX{Hdr: hdr("wrong."+goeSvc+".local.", dns.TypeMX), Mx: "mail.local."},
		&dns.A{Hdr: hdr("other.local.", dns.TypeA), A: net.ParseIP("10.82.0.10")},
		&dns.SRV{Hdr: hdr("noaddr."+goeSvc+".local.", dns.TypeSRV), Port: 80, Target: "."},
		&dns.AAAA{Hdr: hdr("wrong.local.", dns.TypeAAAA), AAAA: net.ParseIP("fd00::1")},
	}
	dup := announce(goeSvc, "dup", "dup-a", 80, nil, "10.82.0.66")
	dupB := announce(goeSvc, "dup", "dup-b", 80, nil, "10.82.0.67")
	dup.Extra = append(dup.Extra, dupB.Extra...)
	var flood []*dns.Msg
	for m := 0; m < 12; m++ { // 600 instances, past maxCandidates
		msg := new(dns.Msg)
		msg.Response = true
		for i := 0; i < 50; i++ {
			n := m*50 + i
			a := announce(goeSvc, fmt.Sprintf("flood%d", n), fmt.Sprintf("flood%d", n), 80, nil,
				fmt.Sprintf("10.83.%d.%d", n/250, n%250+1))
			msg.Answer = append(msg.Answer, a.Answer...)
			msg.Extra = append(msg.Extra, a.Extra...)
		}
		flood = append(flood, msg)
	}
	liar(t, lab, dev, "dev0", func() []*dns.Msg {
		out := []*dns.Msg{
			announce(goeSvc, "huge", "huge", 80, huge, "10.82.0.10"),
			wrong,
			dup, dup, dup,
			announce(goeSvc, "outside", "outside", 80, nil, "8.8.8.8", "127.0.0.1", "224.0.0.251", "255.255.255.255"),
			announce("_http._tcp", "printer", "printer", 80, []string{"ty=Laser"}, "10.82.0.10"),
			announce(goeSvc, "badport", "badport", 0, []string{"=x", "==", "\x00k=v"}, "10.82.0.68"),
		}
		return append(out, flood...)
	})

	o := Options{Timeout: 2 * time.Second, ConnTimeout: time.Second}
	start := time.Now()
	fs := lab.browse(t.Context(), cli, o)
	took := time.Since(start)
	if limit := 3 * (o.Timeout + 4*o.ConnTimeout + time.Second); took > limit {
		t.Errorf("browse took %s, more than %s", took, limit)
	}
	got := map[string]Found{}
	dups, offLink := 0, 0
	lan := netip.MustParsePrefix("10.82.0.0/16")
	far := netip.MustParsePrefix("10.83.0.0/16")
	for _, f := range fs {
		ap, err := netip.ParseAddrPort(f.Address)
		if err != nil || !lan.Contains(ap.Addr()) && !far.Contains(ap.Addr()) {
			t.Errorf("find at an address no device announced on the LAN: %+v", f)
		}
		if strings.HasPrefix(f.Service, "dup.") {
			dups++
		}
		if far.Contains(ap.Addr()) {
			offLink++
		}
		if strings.HasPrefix(f.Service, "printer.") || strings.HasPrefix(f.Service, "outside.") {
			t.Errorf("reported %+v", f)
		}
		for _, s := range []string{f.Brand, f.Model, f.Serial, f.Firmware, f.Service, f.Hostname, f.Note} {
			if strings.ContainsAny(s, "\x1b\x00\n") || len(s) > 200 {
				t.Errorf("unclean field %q in %+v", s, f)
			}
		}
		got[f.Serial+"@"+f.Address] = f
	}
	if f, ok := got["GOOD@10.82.0.10:80"]; !ok || !f.Verified() || f.FoundBy != ByMDNS {
		t.Errorf("the honest charger was not found:\n%s", dump(fs))
	}
	if f, ok := got["@10.82.0.11:80"]; !ok || f.Verified() || f.Note == "" {
		t.Errorf("the hung charger should be listed with a note:\n%s", dump(fs))
	}
	if offLink > maxOffLink {
		t.Errorf("%d finds outside the segment; the cap is %d", offLink, maxOffLink)
	}
	if dups > 1 {
		t.Errorf("the duplicated instance was reported %d times", dups)
	}
	for _, f := range fs {
		if f.Serial != "" && f.Serial != "GOOD" {
			t.Errorf("a lie was verified: %+v", f)
		}
	}
	t.Logf("%d finds in %s", len(fs), took)
	if testing.Verbose() {
		t.Log(dump(fs))
	}
}
