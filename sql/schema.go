// Package schema holds the store's SQL schema files, embedded in the binary.
//
// The directory is sql/ (DESIGN.md's layout) but the package is named
// schema: a package named sql would shadow database/sql in every file that
// imports both, which is exactly the files that use it. Import it as
//
//	schema "pollchat/sql"
package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed mysql/*.sql
var files embed.FS

// Migration is one versioned schema file.
type Migration struct {
	Version int
	Name    string // file name, e.g. 0001_init.sql
	SQL     string // with {prefix} where the table prefix goes
}

// MySQL returns the MySQL store's migrations in version order. Files are
// named NNNN_what.sql; NNNN is the version recorded in {prefix}migrations.
func MySQL() ([]Migration, error) {
	names, err := fs.Glob(files, "mysql/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "mysql/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("schema: %s: want NNNN_name.sql", n)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("schema: %s and %s have the same version %d", prev, base, v)
		}
		seen[v] = base
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: base, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Statements splits a migration into statements with prefix filled in: a
// statement ends with ";" at the end of a line; lines starting with "--"
// are comments.
func (m Migration) Statements(prefix string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(m.SQL, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			out = append(out, strings.ReplaceAll(s, "{prefix}", prefix))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, strings.ReplaceAll(s, "{prefix}", prefix))
	}
	return out
}
