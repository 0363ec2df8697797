package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// BenchmarkClusterDelivery drives the same total load through one process
// and through three (Redis + MariaDB, the cluster setup): 300 parked users
// polling round-robin across the processes, 16 senders sending 1-to-1
// messages to random users. It reports delivery latency (send started →
// message in a poll answer) p50/p99 and deliveries per second.
//
//	go test -run '^$' -bench ClusterDelivery -benchtime 1x ./e2e
func BenchmarkClusterDelivery(b *testing.B) {
	for _, procs := range []int{1, 3} {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchCluster(b, procs, 300, 16, 3000)
			}
		})
	}
}

func benchCluster(b *testing.B, procs, users, senders, messages int) {
	b.StopTimer()
	rd := testsvc.StartRedis(b)
	db := testsvc.SharedMariaDB(b)
	dsn := db.NewDatabase(b)
	o := testsvc.Options{
		PollTimeout: "25s",
		Chat:        "rate = 0\nbuffer = 1024",
		Store:       fmt.Sprintf("[store]\ndriver = \"mysql\"\ndsn = %q\n", dsn),
		Extra:       fmt.Sprintf("[cluster]\nredis_url = %q\n", rd.URL),
	}
	var cls []*testsvc.Client
	for i := 0; i < procs; i++ {
		p := testsvc.StartPollchat(b, o)
		cl := testsvc.NewClient(p.URL)
		cl.HTTP.Transport = &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}
		cls = append(cls, cl)
	}
	// Users u0..uN say hello (so they are known) and start polling.
	ids := make([]string, users)
	for i := range ids {
		ids[i] = "bench" + strconv.Itoa(i)
	}
	sentAt := sync.Map{} // text -> time
	var lat []time.Duration
	var latMu sync.Mutex
	var delivered atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, uid := range ids {
		p := cls[i%procs].NewPoller(b, uid)
		wg.Add(1)
		go func(i int, p *testsvc.Poller) {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				p.C = cls[(i+n)%procs]
				v := p.C.Ident(p.UID)
				v.Set("cursor", p.Cursor)
				v.Set("timeout", "5")
				r, err := p.C.DoErr("GET", "/v1/poll", v)
				if err != nil || r.Status != 200 {
					continue
				}
				var res testsvc.PollResult
				r.JSON(b, &res)
				p.Cursor = res.Cursor
				now := time.Now()
				for _, raw := range res.Events {
					s := string(raw)
					i := strings.Index(s, `"text":"m`)
					if i < 0 || !strings.Contains(s, `"to":"`+p.UID+`"`) {
						continue
					}
					key := s[i+8 : i+8+strings.IndexByte(s[i+8:], '"')]
					if at, ok := sentAt.Load(key); ok {
						latMu.Lock()
						lat = append(lat, now.Sub(at.(time.Time)))
						latMu.Unlock()
						delivered.Add(1)
					}
				}
			}
		}(i, p)
	}
	time.Sleep(500 * time.Millisecond)
	b.StartTimer()
	start := time.Now()
	var next, sent atomic.Int64
	var sendErrs sync.Map // code -> *atomic.Int64
	var swg sync.WaitGroup
	for s := 0; s < senders; s++ {
		swg.Add(1)
		go func(s int) {
			defer swg.Done()
			for {
				n := next.Add(1)
				if n > int64(messages) {
					return
				}
				fi := rand.IntN(users)
				from, to := ids[fi], ids[(fi+1+rand.IntN(users-1))%users]
				text := "m" + strconv.FormatInt(n, 10)
				cl := cls[int(n)%procs]
				v := cl.Ident(from)
				v.Set("to", to)
				v.Set("text", text)
				sentAt.Store(text, time.Now())
				r, err := cl.DoErr("GET", "/v1/send", v)
				code := ""
				switch {
				case err != nil:
					code = "TRANSPORT"
				case r.ErrorCode() != "":
					code = r.ErrorCode()
				}
				if code != "" {
					n, _ := sendErrs.LoadOrStore(code, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
					continue
				}
				sent.Add(1)
			}
		}(s)
	}
	swg.Wait()
	for i := 0; i < 400 && delivered.Load() < sent.Load(); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	wg.Wait()
	latMu.Lock()
	defer latMu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		b.Fatal("nothing delivered")
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(delivered.Load())/float64(max(sent.Load(), 1))*100, "delivered-%")
	sendErrs.Range(func(k, v any) bool {
		b.Logf("sends answered %s: %d", k, v.(*atomic.Int64).Load())
		return true
	})
}
