// Command webbundle bundles the browser code a node serves, with esbuild's Go
// API, so that it ships inside the binary and `make run` and `go install` need
// nothing but Go: demo/app.js, the page's script (clients/js/page/main.ts and
// the client it imports), and demo/client.js, the client itself as an ES module
// (clients/js/src/index.ts; GET /client.js, for `import("/client.js")` from a
// page or the console). Run it with `go generate ./demo`; TestUpToDate fails
// when a committed bundle differs from what the sources give. It strips types
// without checking them: `npm run typecheck` in clients/js does that.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// bundles are the files it writes: each from its entry, in its format.
var bundles = []struct {
	out, entry string
	format     api.Format
}{
	{"app.js", "clients/js/page/main.ts", api.FormatIIFE},
	{"client.js", "clients/js/src/index.ts", api.FormatESModule},
	{"analytics.js", "clients/js/page/analytics.ts", api.FormatIIFE}, // imports uplot from clients/js/node_modules
	{"uplot.css", "clients/js/node_modules/uplot/dist/uPlot.min.css", api.FormatDefault},
}

func main() {
	root := flag.String("root", "..", "the repository's root")
	dir := flag.String("dir", ".", "where to write the bundles")
	flag.Parse()
	for _, b := range bundles {
		out, err := bundle(filepath.Join(*root, b.entry), b.format)
		if err == nil {
			err = os.WriteFile(filepath.Join(*dir, b.out), out, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "webbundle:", b.out+":", err)
			os.Exit(1)
		}
	}
}

// bundle returns the minified bundle of entry (a script, or a stylesheet) for
// browsers of the last few years (ES2022), with no source map and no absolute
// paths in it.
func bundle(entry string, format api.Format) ([]byte, error) {
	abs, err := filepath.Abs(entry)
	if err != nil {
		return nil, err
	}
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{abs},
		Bundle:            true,
		Format:            format,
		Platform:          api.PlatformBrowser,
		Target:            api.ES2022,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		LegalComments:     api.LegalCommentsNone,
		Charset:           api.CharsetUTF8,
		Write:             false,
		LogLevel:          api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		msgs := api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage})
		hint := ""
		if strings.Contains(strings.Join(msgs, ""), "node_modules") || strings.Contains(strings.Join(msgs, ""), "Could not resolve") {
			hint = "\n(the page's npm packages are missing: run `make js`, or `npm ci` in clients/js)"
		}
		return nil, errors.New(strings.Join(msgs, "\n") + hint)
	}
	if len(res.OutputFiles) != 1 {
		return nil, fmt.Errorf("esbuild wrote %d files, want 1", len(res.OutputFiles))
	}
	return res.OutputFiles[0].Contents, nil
}
