package chat

import (
	"fmt"
	"strings"
)

// The server's own texts to a user (room command feedback: /help and the
// mute notices) follow the language their hello named (lang): English,
// German, French or Italian; anything else is English.

// Langs are the languages of the server's texts; the first is the default.
var Langs = []string{"en", "de", "fr", "it"}

// normLang returns the supported language of a lang parameter ("de-CH"
// is "de"), or "".
func normLang(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(lang, "-_"); i > 0 {
		lang = lang[:i]
	}
	for _, l := range Langs {
		if l == lang {
			return l
		}
	}
	return ""
}

// A text's key; each has a format for every language.
const (
	txtHelp = iota
	txtOnlyMods
	txtNoUser
	txtNoSelfMute
	txtCantMute
	txtMuted
	txtNoSelfUnmute
	txtCantUnmute
	txtNotMuted
	txtUnmuted
)

var texts = map[string][]string{
	"en": {
		txtHelp:         "Commands: /mute NAME_OR_ID MINUTES mutes a user in this room (moderators); /unmute NAME_OR_ID ends a mute; /help shows this.",
		txtOnlyMods:     "Only moderators can use /%s.",
		txtNoUser:       "No user %q in %s.",
		txtNoSelfMute:   "You cannot mute yourself.",
		txtCantMute:     "You cannot mute %s: their role is not below yours.",
		txtMuted:        "%s is muted in %s for %s.",
		txtNoSelfUnmute: "You cannot unmute yourself.",
		txtCantUnmute:   "You cannot unmute %s: their role is not below yours.",
		txtNotMuted:     "%s was not muted in %s.",
		txtUnmuted:      "%s is no longer muted in %s.",
	},
	"de": {
		txtHelp:         "Befehle: /mute NAME_ODER_ID MINUTEN schaltet jemanden in diesem Raum stumm (Moderatoren); /unmute NAME_ODER_ID hebt das auf; /help zeigt diese Hilfe.",
		txtOnlyMods:     "Nur Moderatoren können /%s verwenden.",
		txtNoUser:       "Kein Benutzer %q in %s.",
		txtNoSelfMute:   "Du kannst dich nicht selbst stummschalten.",
		txtCantMute:     "Du kannst %s nicht stummschalten: die Rolle ist nicht niedriger als deine.",
		txtMuted:        "%s ist in %s für %s stummgeschaltet.",
		txtNoSelfUnmute: "Du kannst deine eigene Stummschaltung nicht aufheben.",
		txtCantUnmute:   "Du kannst die Stummschaltung von %s nicht aufheben: die Rolle ist nicht niedriger als deine.",
		txtNotMuted:     "%s war in %s nicht stummgeschaltet.",
		txtUnmuted:      "%s ist in %s nicht mehr stummgeschaltet.",
	},
	"fr": {
		txtHelp:         "Commandes : /mute NOM_OU_ID MINUTES rend un utilisateur muet dans ce salon (modérateurs) ; /unmute NOM_OU_ID lève le silence ; /help affiche cette aide.",
		txtOnlyMods:     "Seuls les modérateurs peuvent utiliser /%s.",
		txtNoUser:       "Aucun utilisateur %q dans %s.",
		txtNoSelfMute:   "Vous ne pouvez pas vous rendre muet vous-même.",
		txtCantMute:     "Vous ne pouvez pas rendre %s muet : son rôle n'est pas inférieur au vôtre.",
		txtMuted:        "%s est rendu muet dans %s pour %s.",
		txtNoSelfUnmute: "Vous ne pouvez pas lever votre propre silence.",
		txtCantUnmute:   "Vous ne pouvez pas lever le silence de %s : son rôle n'est pas inférieur au vôtre.",
		txtNotMuted:     "%s n'était pas muet dans %s.",
		txtUnmuted:      "%s n'est plus muet dans %s.",
	},
	"it": {
		txtHelp:         "Comandi: /mute NOME_O_ID MINUTI silenzia un utente in questa stanza (moderatori); /unmute NOME_O_ID toglie il silenzio; /help mostra questo aiuto.",
		txtOnlyMods:     "Solo i moderatori possono usare /%s.",
		txtNoUser:       "Nessun utente %q in %s.",
		txtNoSelfMute:   "Non puoi silenziare te stesso.",
		txtCantMute:     "Non puoi silenziare %s: il suo ruolo non è inferiore al tuo.",
		txtMuted:        "%s è silenziato in %s per %s.",
		txtNoSelfUnmute: "Non puoi togliere il tuo silenzio.",
		txtCantUnmute:   "Non puoi togliere il silenzio a %s: il suo ruolo non è inferiore al tuo.",
		txtNotMuted:     "%s non era silenziato in %s.",
		txtUnmuted:      "%s non è più silenziato in %s.",
	},
}

// units are the words of humanIn: second, seconds, minute, ... per language.
var units = map[string][6]string{
	"en": {"second", "seconds", "minute", "minutes", "hour", "hours"},
	"de": {"Sekunde", "Sekunden", "Minute", "Minuten", "Stunde", "Stunden"},
	"fr": {"seconde", "secondes", "minute", "minutes", "heure", "heures"},
	"it": {"secondo", "secondi", "minuto", "minuti", "ora", "ore"},
}

// langOf is the language of user's texts: what c says, else what their
// last hello said, else English.
func (s *Service) langOf(c Caller) string {
	if l := normLang(c.Lang); l != "" {
		return l
	}
	if v, ok := s.langs.Load(c.ID); ok {
		return v.(string)
	}
	return "en"
}

// setLang keeps the language a hello named; none or an unknown one is
// English.
func (s *Service) setLang(c Caller) {
	l := normLang(c.Lang)
	if l == "" {
		s.langs.Delete(c.ID)
		return
	}
	s.langs.Store(c.ID, l)
}

// sysText formats a server text in lang.
func sysText(lang string, key int, args ...any) string {
	t, ok := texts[lang]
	if !ok {
		t = texts["en"]
	}
	if len(args) == 0 {
		return t[key]
	}
	return fmt.Sprintf(t[key], args...)
}

// humanIn is humanSeconds in lang.
func humanIn(lang string, n int) string {
	u, ok := units[lang]
	if !ok {
		u = units["en"]
	}
	v, i := n, 0
	switch {
	case n < 60:
	case n < 3600:
		v, i = (n+59)/60, 2
	default:
		v, i = (n+3599)/3600, 4
	}
	if v != 1 {
		i++
	}
	return itoa(v) + " " + u[i]
}
