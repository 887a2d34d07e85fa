package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// output formats.
const (
	outTable = "table"
	outJSON  = "json"
	outCSV   = "csv"
)

func checkOutput(o string) error {
	switch o {
	case outTable, outJSON, outCSV:
		return nil
	}
	return fmt.Errorf("--output %q: want table, json or csv", o)
}

// writeRows prints a header and rows as an aligned table or CSV, or items as JSON.
func writeRows(w io.Writer, format string, header []string, rows [][]string, items any) error {
	switch format {
	case outJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	case outCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	}
}
