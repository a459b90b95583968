package demo

import (
	_ "embed"
	"net/http"
)

//go:embed index.html
var indexHTML []byte

// Page serves the demo page.
func Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(indexHTML)
	})
}
