package server

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"
)

// healthz answers 200 while the store (and the cluster broker) answer,
// 503 otherwise: what a load balancer's health check asks.
func (s *Server) healthz(ctx *fasthttp.RequestCtx) {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("application/json; charset=utf-8")
	if err := s.svc.Healthy(c); err != nil {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString(`{"status":"unavailable"}`)
		return
	}
	ctx.SetBodyString(`{"status":"ok"}`)
}
