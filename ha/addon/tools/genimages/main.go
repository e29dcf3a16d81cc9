// Command genimages draws the add-on's icon.png (128×128) and logo.png
// (250×100): a lightning bolt on a rounded square, and beside it on the
// logo the name in a small pixel font. Run from the repository root:
//
//	go run ./ha/addon/tools/genimages -out ha/addon
//
// The output is deterministic; deploy/addon_test.go checks that the
// committed images are what this draws.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
)

var (
	background = color.NRGBA{0x0b, 0x6e, 0x4f, 0xff} // deep green
	bolt       = color.NRGBA{0xff, 0xd2, 0x3f, 0xff} // amber
	ink        = color.NRGBA{0x1f, 0x2a, 0x30, 0xff} // the logo's text
)

// boltShape is the lightning bolt in a unit square, clockwise.
var boltShape = [][2]float64{{0.58, 0.10}, {0.28, 0.56}, {0.48, 0.56}, {0.40, 0.90}, {0.72, 0.42}, {0.52, 0.42}}

// shape reports whether a point of the unit square is painted.
type shape func(x, y float64) bool

// paint covers the size×size square at (ox, oy) of img with c where s
// holds, antialiased with 4×4 samples per pixel.
func paint(img *image.NRGBA, ox, oy, size int, s shape, c color.NRGBA) {
	const n = 4
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			hits := 0
			for sy := 0; sy < n; sy++ {
				for sx := 0; sx < n; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/n) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/n) / float64(size)
					if s(x, y) {
						hits++
					}
				}
			}
			if hits > 0 {
				blend(img, ox+px, oy+py, c, float64(hits)/(n*n))
			}
		}
	}
}

// blend paints c over the pixel with coverage a.
func blend(img *image.NRGBA, x, y int, c color.NRGBA, a float64) {
	d := img.NRGBAAt(x, y)
	da := float64(d.A) / 255
	oa := a + da*(1-a)
	mix := func(s, d uint8) uint8 {
		if oa == 0 {
			return 0
		}
		return uint8((float64(s)*a + float64(d)*da*(1-a)) / oa)
	}
	img.SetNRGBA(x, y, color.NRGBA{mix(c.R, d.R), mix(c.G, d.G), mix(c.B, d.B), uint8(oa*255 + 0.5)})
}

func roundedSquare(r float64) shape {
	return func(x, y float64) bool {
		cx := min(max(x, r), 1-r)
		cy := min(max(y, r), 1-r)
		return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
	}
}

func polygon(p [][2]float64) shape {
	return func(x, y float64) bool {
		in := false
		for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
			if (p[i][1] > y) != (p[j][1] > y) && x < (p[j][0]-p[i][0])*(y-p[i][1])/(p[j][1]-p[i][1])+p[i][0] {
				in = !in
			}
		}
		return in
	}
}

// glyphs is a 5×7 pixel font for the letters of "evbridge".
var glyphs = map[rune][7]string{
	'e': {".....", ".....", ".###.", "#...#", "#####", "#....", ".####"},
	'v': {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'b': {"#....", "#....", "####.", "#...#", "#...#", "#...#", "####."},
	'r': {".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."},
	'i': {"..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."},
	'd': {"....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"},
	'g': {".....", ".####", "#...#", "#...#", ".####", "....#", ".###."},
}

// text draws s with each font pixel a scale×scale block from (x, y).
func text(img *image.NRGBA, x, y, scale int, s string, c color.NRGBA) {
	for _, r := range s {
		g := glyphs[r]
		for row, line := range g {
			for col, ch := range line {
				if ch != '#' {
					continue
				}
				for dy := 0; dy < scale; dy++ {
					for dx := 0; dx < scale; dx++ {
						img.SetNRGBA(x+col*scale+dx, y+row*scale+dy, c)
					}
				}
			}
		}
		x += 6 * scale
	}
}

func icon(img *image.NRGBA, x, y, size int) {
	paint(img, x, y, size, roundedSquare(0.2), background)
	paint(img, x, y, size, polygon(boltShape), bolt)
}

func save(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return f.Close()
}

func main() {
	out := flag.String("out", "ha/addon", "directory to write icon.png and logo.png to")
	flag.Parse()
	ic := image.NewNRGBA(image.Rect(0, 0, 128, 128))
	icon(ic, 0, 0, 128)
	logo := image.NewNRGBA(image.Rect(0, 0, 250, 100))
	icon(logo, 6, 14, 72)
	text(logo, 90, 39, 3, "evbridge"[:2], background)
	text(logo, 90+2*18, 39, 3, "evbridge"[2:], ink)
	for name, img := range map[string]image.Image{"icon.png": ic, "logo.png": logo} {
		if err := save(filepath.Join(*out, name), img); err != nil {
			fmt.Fprintln(os.Stderr, "genimages:", err)
			os.Exit(1)
		}
	}
}
