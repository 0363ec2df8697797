package files

import (
	"image"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// photo12MP makes a 4000×3000 JPEG that compresses like a photo: smooth
// gradients with some texture, rotated by EXIF so the rotation path runs.
func photo12MP(b *testing.B) []byte {
	img := image.NewYCbCr(image.Rect(0, 0, 4000, 3000), image.YCbCrSubsampleRatio420)
	for y := 0; y < 3000; y++ {
		for x := 0; x < 4000; x++ {
			img.Y[y*img.YStride+x] = uint8((x/16 + y/12 + (x*y)%7) & 0xff)
		}
	}
	for i := range img.Cb {
		img.Cb[i] = uint8(100 + i%40)
		img.Cr[i] = uint8(140 - i%30)
	}
	return withAPP1(encJPEG(b, img), exifAPP1(6, "GPS"))
}

// BenchmarkAccept12MP processes a 12 MP photo with EXIF orientation 6:
// decode, rotate, re-encode, thumbnail. peak-heap-MB is the largest live
// heap seen while it ran (sampled every millisecond).
func BenchmarkAccept12MP(b *testing.B) {
	data := photo12MP(b)
	p := newProc(b, Config{MaxSize: 20 << 20})
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		u, err := p.Accept(data, "IMG.jpg")
		if err != nil || u.Width != 3000 || u.Height != 4000 {
			b.Fatalf("Accept = %v", err)
		}
	}
	b.StopTimer()
	close(done)
	wg.Wait()
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(len(data))/1e6, "input-MB")
}
