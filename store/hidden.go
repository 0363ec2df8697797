package store

import (
	"context"
	"strconv"
	"strings"
)

// Hidden keeps the conversations users removed from their list (issue 15.5,
// the widget's removeChat): records of kind "hidden" keyed user,conv with
// the id of the newest message when it was hidden. The conversation is
// hidden until a newer message arrives.
type Hidden struct{ r Records }

const kindHidden = "hidden"

// NewHidden returns the hidden conversations kept in r.
func NewHidden(r Records) *Hidden { return &Hidden{r: r} }

// Hide hides conv from user's list until a message with an id above upto.
func (h *Hidden) Hide(ctx context.Context, user string, conv Conv, upto int64) error {
	if err := checkUserID("user_id", user); err != nil {
		return &Error{Op: "hide", Err: err}
	}
	if conv == "" || upto < 0 {
		return &Error{Op: "hide", Err: invalid("hide needs a conversation and upto >= 0")}
	}
	return h.r.PutRecord(ctx, kindHidden, user+","+string(conv), []byte(strconv.FormatInt(upto, 10)))
}

// Unhide shows conv again in user's list.
func (h *Hidden) Unhide(ctx context.Context, user string, conv Conv) (bool, error) {
	if checkUserID("user_id", user) != nil || conv == "" {
		return false, nil
	}
	return h.r.DeleteRecord(ctx, kindHidden, user+","+string(conv))
}

// Hidden returns user's hidden conversations with their upto.
func (h *Hidden) Hidden(ctx context.Context, user string) (map[Conv]int64, error) {
	out := map[Conv]int64{}
	if checkUserID("user_id", user) != nil {
		return out, nil
	}
	err := listAll(ctx, h.r, kindHidden, user+",", func(rec Record) error {
		upto, err := strconv.ParseInt(string(rec.Val), 10, 64)
		if err != nil {
			return &Error{Op: "hidden", Err: err}
		}
		out[Conv(strings.TrimPrefix(rec.Key, user+","))] = upto
		return nil
	})
	return out, err
}

// Filter drops from convs (user's Conversations result) the lines hidden
// with nothing newer than when they were hidden.
func (h *Hidden) Filter(ctx context.Context, user string, convs []Conversation) ([]Conversation, error) {
	hidden, err := h.Hidden(ctx, user)
	if err != nil || len(hidden) == 0 {
		return convs, err
	}
	return FilterHidden(user, convs, hidden), nil
}

// FilterHidden is Filter with the hidden set already read.
func FilterHidden(user string, convs []Conversation, hidden map[Conv]int64) []Conversation {
	out := convs[:0:0]
	for _, c := range convs {
		conv := RoomConv(c.Room)
		if c.Room == "" {
			conv = DirectConv(user, c.With)
		}
		if upto, ok := hidden[conv]; ok && (c.Last == nil || c.Last.ID <= upto) {
			continue
		}
		out = append(out, c)
	}
	return out
}
