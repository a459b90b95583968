// Command webbundle bundles the demo page's script (clients/js/page/main.ts and
// the client it imports, TypeScript) into demo/app.js with esbuild's Go API, so
// that the page ships inside the binary and `make run` and `go install` need
// nothing but Go. Run it with `go generate ./demo`; TestUpToDate fails when the
// committed bundle differs from what the sources give. It strips types without
// checking them: `npm run typecheck` in clients/js does that.
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

func main() {
	entry := flag.String("entry", "../clients/js/page/main.ts", "the page's entry point")
	out := flag.String("out", "app.js", "the bundle to write")
	flag.Parse()
	b, err := bundle(*entry)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webbundle:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "webbundle:", err)
		os.Exit(1)
	}
}

// bundle returns the minified bundle of entry: one IIFE for browsers of the
// last few years (ES2020), with no source map and no absolute paths in it.
func bundle(entry string) ([]byte, error) {
	abs, err := filepath.Abs(entry)
	if err != nil {
		return nil, err
	}
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{abs},
		Bundle:            true,
		Format:            api.FormatIIFE,
		Platform:          api.PlatformBrowser,
		Target:            api.ES2020,
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
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	if len(res.OutputFiles) != 1 {
		return nil, fmt.Errorf("esbuild wrote %d files, want 1", len(res.OutputFiles))
	}
	return res.OutputFiles[0].Contents, nil
}
