package server

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/rotorhq/rotor/inventory"
	"github.com/rotorhq/rotor/lifecycle"
)

// expiryChart draws the upcoming expiries by week as an SVG bar chart, on the server: no script,
// no inline style (the CSP forbids it), colours from CSS classes, and a title and description for
// screen readers (the page also offers the numbers as a table).
func expiryChart(o *inventory.Overview, th lifecycle.Thresholds) template.HTML {
	const (
		w, h                     = 760, 220
		left, right, top, bottom = 44, 8, 12, 36
	)
	n := len(o.Weeks)
	if n == 0 {
		return ""
	}
	maxV := 0
	total := 0
	for _, v := range o.Weeks {
		maxV = max(maxV, v)
		total += v
	}
	step := niceStep(maxV)
	top0 := step * int(math.Ceil(float64(max(maxV, 1))/float64(step)))
	plotW, plotH := float64(w-left-right), float64(h-top-bottom)
	bw := plotW / float64(n)
	y := func(v int) float64 { return float64(top) + plotH - plotH*float64(v)/float64(top0) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">`, w, h)
	fmt.Fprintf(&b, `<title id="chart-title">Credentials expiring per week, next %d weeks</title>`, n)
	fmt.Fprintf(&b, `<desc id="chart-desc">%d credentials end in the next %d weeks; the busiest week has %d.</desc>`, total, n, maxV)
	for v := 0; v <= top0; v += step {
		yy := y(v)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, w-right, yy, yy)
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%d</text>`, left-6, yy+4, v)
	}
	week := 7 * 24 * time.Hour
	for i, v := range o.Weeks {
		start := o.Now.Add(time.Duration(i) * week)
		end := start.Add(week)
		cls := "bar"
		switch {
		case start.Before(o.Now.Add(th.Critical)):
			cls += " bar-critical"
		case start.Before(o.Now.Add(th.Warn)):
			cls += " bar-warn"
		}
		x := float64(left) + float64(i)*bw + 2
		yy := y(v)
		hh := float64(top) + plotH - yy
		if v > 0 && hh < 2 {
			hh, yy = 2, float64(top)+plotH-2
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s to %s: %d</title></rect>`,
			cls, x, yy, bw-4, hh, start.UTC().Format("Jan 2"), end.UTC().Format("Jan 2"), v)
		if i%4 == 0 {
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="start">%s</text>`, x, h-bottom+16, start.UTC().Format("Jan 2"))
		}
	}
	fmt.Fprintf(&b, `<line class="baseline" x1="%d" x2="%d" y1="%d" y2="%d"/>`, left, w-right, top+int(plotH), top+int(plotH))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and fixed strings only
}

// niceStep picks a gridline step of 1, 2 or 5 times a power of ten for about four lines.
func niceStep(maxV int) int {
	if maxV <= 4 {
		return 1
	}
	raw := float64(maxV) / 4
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			return int(m * pow)
		}
	}
	return int(10 * pow)
}
