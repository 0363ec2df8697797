package schema

import (
	"strings"
	"testing"
)

func TestMySQLMigrations(t *testing.T) {
	ms, err := MySQL()
	if err != nil {
		t.Fatalf("MySQL() = %v", err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("MySQL() = %d migrations; want version 1 first", len(ms))
	}
	for i, m := range ms {
		if i > 0 && m.Version <= ms[i-1].Version {
			t.Errorf("migration %s not after %s", m.Name, ms[i-1].Name)
		}
		stmts := m.Statements("px_")
		if len(stmts) == 0 {
			t.Errorf("%s: no statements", m.Name)
		}
		for _, s := range stmts {
			if strings.Contains(s, "{prefix}") || strings.HasSuffix(s, ";") || strings.HasPrefix(s, "--") {
				t.Errorf("%s: statement %q still has a placeholder, a ; or a comment", m.Name, s)
			}
			if strings.HasPrefix(s, "CREATE TABLE") && !strings.Contains(s, "utf8mb4") {
				t.Errorf("%s: %q is not utf8mb4", m.Name, s)
			}
		}
	}
}

func TestStatements(t *testing.T) {
	m := Migration{SQL: "-- c\nCREATE TABLE `{prefix}a` (\n  x INT\n);\n\n-- d\nDROP TABLE `{prefix}b`;\nSELECT 1"}
	got := m.Statements("p_")
	want := []string{"CREATE TABLE `p_a` (\n  x INT\n)", "DROP TABLE `p_b`", "SELECT 1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Statements(p_) = %q; want %q", got, want)
	}
}
