package server

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := fmt.Fprintln(w, "ok")
	return err
}

// readyz answers 200 when the store answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if _, err := s.cfg.Store.TenantList(r.Context()); err != nil {
		s.log.Warn("not ready: store unavailable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, err := fmt.Fprintln(w, "store unavailable")
		return err
	}
	_, err := fmt.Fprintln(w, "ready")
	return err
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Metrics == nil {
		return notFoundf("metrics are not enabled")
	}
	s.cfg.Metrics.ServeHTTP(w, r)
	return nil
}

//go:embed ui/static
var staticFiles embed.FS

// loadStatic returns the static assets and a content hash of each, for cache-busting URLs.
func loadStatic() (fs.FS, map[string]string, error) {
	sub, err := fs.Sub(staticFiles, "ui/static")
	if err != nil {
		return nil, nil, err
	}
	hashes := map[string]string{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		hashes[p] = hex.EncodeToString(h[:6])
		return nil
	})
	return sub, hashes, err
}

// asset returns the URL of a static file, versioned by its content.
func (s *Server) asset(name string) string {
	return "/static/" + name + "?v=" + s.assets[name]
}

// staticFile serves the embedded CSS, JavaScript and icons. Versioned URLs are cached for a year.
func (s *Server) staticFile(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	b, err := fs.ReadFile(s.static, name)
	if err != nil {
		return notFoundf("no static file %s", name)
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if r.URL.Query().Get("v") == s.assets[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("Last-Modified", time.Unix(0, 0).UTC().Format(http.TimeFormat))
	_, err = w.Write(b)
	return err
}
