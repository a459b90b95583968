package demo

import (
	_ "embed"
	"net/http"
)

//go:embed index.html
var indexHTML []byte

// appJS is the page's script: clients/js/page/main.ts and the client it
// imports, bundled by internal/webbundle (go generate ./demo).
//
//go:embed app.js
var appJS []byte

// Page serves the demo page.
func Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(indexHTML)
	})
}

// Script serves the page's script (GET /app.js).
func Script() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(appJS)
	})
}
