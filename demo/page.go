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

// clientJS is @actorhub/client as one ES module (clients/js/src/index.ts,
// bundled by internal/webbundle): a page of this node, or its console, can
// import("/client.js").
//
//go:embed client.js
var clientJS []byte

// Script serves the page's script (GET /app.js).
func Script() http.Handler { return script(appJS) }

// Client serves the client as an ES module (GET /client.js).
func Client() http.Handler { return script(clientJS) }

func script(b []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	})
}
