// Command gotemplate-oracle renders Go templates with text/template and Sprig, for the tests of reconcile's own
// template engine: each stdin line is {"template", "data", "options"}, each stdout line {"output"} or {"error"}.
// The function map is Sprig's text functions without env, expandenv and getHostByName, as Argo CD's
// ApplicationSet controller starts from.
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

type request struct {
	Template string         `json:"template"`
	Data     map[string]any `json:"data"`
	Options  []string       `json:"options"`
}

type answer struct {
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
}

func main() {
	functions := sprig.TxtFuncMap()
	for _, name := range []string{"env", "expandenv", "getHostByName"} {
		delete(functions, name)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			message := err.Error()
			_ = out.Encode(answer{Error: &message})
			continue
		}
		_ = out.Encode(render(req, functions))
	}
}

func render(req request, functions template.FuncMap) answer {
	tmpl, err := template.New("").Funcs(functions).Option(req.Options...).Parse(req.Template)
	if err != nil {
		message := err.Error()
		return answer{Error: &message}
	}
	var text strings.Builder
	if err := tmpl.Execute(&text, req.Data); err != nil {
		message := err.Error()
		return answer{Error: &message}
	}
	output := text.String()
	return answer{Output: &output}
}
