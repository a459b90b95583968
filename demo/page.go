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
func Page() http.Handler { return static("text/html; charset=utf-8", indexHTML) }

// clientJS is @actorhub/client as one ES module (clients/js/src/index.ts,
// bundled by internal/webbundle): a page of this node, or its console, can
// import("/client.js").
//
//go:embed client.js
var clientJS []byte

// analyticsHTML, analyticsJS and uplotCSS are the analytics view at
// /analytics: clients/js/page/analytics.ts with uPlot, bundled by
// internal/webbundle.
var (
	//go:embed analytics.html
	analyticsHTML []byte
	//go:embed analytics.js
	analyticsJS []byte
	//go:embed uplot.css
	uplotCSS []byte
)

// Analytics serves the analytics view (GET /analytics), its script
// (/analytics.js) and its charts' stylesheet (/uplot.css).
func Analytics(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle("GET /analytics", static("text/html; charset=utf-8", analyticsHTML))
	mux.Handle("GET /analytics.js", script(analyticsJS))
	mux.Handle("GET /uplot.css", static("text/css; charset=utf-8", uplotCSS))
}

func static(ctype string, b []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	})
}

// Script serves the page's script (GET /app.js).
func Script() http.Handler { return script(appJS) }

// Client serves the client as an ES module (GET /client.js).
func Client() http.Handler { return script(clientJS) }

func script(b []byte) http.Handler { return static("text/javascript; charset=utf-8", b) }
