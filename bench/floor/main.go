// dw-bench-floor: the benchmark's helpers that are not clients under test
// (built by bench/run.sh with the Go toolchain; standard library only).
//
//	send  the sending floor: the SendMessageBatch calls dw-fanout makes for
//	      a range of per-second files (same bodies, same "from" attribute,
//	      ten entries a call, SigV4-signed, JSON protocol), at the same
//	      concurrency, with no listing: the keys are generated.  What no
//	      client that lists can beat.
//	seed  PUT one small object per key read from stdin (one a line) into a
//	      bucket, concurrently: seeding the S3 server for the runs.
//
// Both print one JSON line: {"sent": N, "failed": N, "requests": N}.
package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type signer struct {
	region, keyID, secret, token string
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// sign adds SigV4 headers (header-based, every header set so far signed).
func (s *signer) sign(req *http.Request, service string, body []byte) {
	now := time.Now().UTC()
	amzDate := now.Format("20060102T150405Z")
	day := amzDate[:8]
	payload := sha256hex(body)
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payload)
	if s.token != "" {
		req.Header.Set("X-Amz-Security-Token", s.token)
	}
	names := []string{"host"}
	values := map[string]string{"host": req.URL.Host}
	for k, v := range req.Header {
		lk := strings.ToLower(k)
		names = append(names, lk)
		values[lk] = strings.TrimSpace(strings.Join(v, ","))
	}
	sort.Strings(names)
	var canon strings.Builder
	for _, n := range names {
		canon.WriteString(n + ":" + values[n] + "\n")
	}
	signed := strings.Join(names, ";")
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	creq := strings.Join([]string{req.Method, path, req.URL.RawQuery, canon.String(), signed, payload}, "\n")
	scope := day + "/" + s.region + "/" + service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256hex([]byte(creq))
	k := hmacSHA256([]byte("AWS4"+s.secret), day)
	k = hmacSHA256(k, s.region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(k, sts))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.keyID+"/"+scope+
		", SignedHeaders="+signed+", Signature="+sig)
}

type counts struct{ sent, failed, requests int64 }

// do sends one request (built afresh per attempt), up to 3 attempts on a
// transport error or a non-2xx answer; returns the last answer's body.
func do(c *http.Client, s *signer, n *counts, service, method, u string, body []byte,
	headers map[string]string) ([]byte, bool) {
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequest(method, u, bytes.NewReader(body))
		if err != nil {
			panic(err)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		s.sign(req, service, body)
		atomic.AddInt64(&n.requests, 1)
		resp, err := c.Do(req)
		if err == nil {
			out, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode/100 == 2 {
				return out, true
			}
		}
		if attempt == 3 {
			return nil, false
		}
		time.Sleep(time.Duration(50*attempt) * time.Millisecond)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

type batchAnswer struct {
	Successful []struct{ Id string }
	Failed     []struct{ Id string }
}

func sendFloor(c *http.Client, s *signer, endpoint, queueURL string, keys <-chan []string, n *counts) {
	headers := map[string]string{"Content-Type": "application/x-amz-json-1.0",
		"X-Amz-Target": "AmazonSQS.SendMessageBatch"}
	for batch := range keys {
		var b strings.Builder
		b.WriteString(`{"QueueUrl":` + jsonString(queueURL) + `,"Entries":[`)
		for i, k := range batch {
			if i > 0 {
				b.WriteByte(',')
			}
			q := jsonString(k)
			fmt.Fprintf(&b, `{"Id":"%d","MessageBody":%s,"MessageAttributes":{"from":`+
				`{"DataType":"String","StringValue":%s}}}`, i, q, q)
		}
		b.WriteString("]}")
		out, ok := do(c, s, n, "sqs", "POST", endpoint+"/", []byte(b.String()), headers)
		var a batchAnswer
		if !ok || json.Unmarshal(out, &a) != nil {
			atomic.AddInt64(&n.failed, int64(len(batch)))
			continue
		}
		atomic.AddInt64(&n.sent, int64(len(a.Successful)))
		atomic.AddInt64(&n.failed, int64(len(batch)-len(a.Successful)))
	}
}

func seed(c *http.Client, s *signer, endpoint, bucket string, keys <-chan []string, n *counts) {
	body := []byte(`{"event": "click", "n": 1}`)
	for batch := range keys {
		for _, k := range batch {
			u := endpoint + "/" + bucket + "/" + (&url.URL{Path: k}).EscapedPath()
			if _, ok := do(c, s, n, "s3", "PUT", u, body, nil); ok {
				atomic.AddInt64(&n.sent, 1)
			} else {
				atomic.AddInt64(&n.failed, 1)
			}
		}
	}
}

// floorKeys sends the keys of hours x seconds, as dw-fanout would find them
// (the bench's names: <prefix>YYYY-MM-DD-HH-<m>-<s>-events.json), in tens.
func floorKeys(prefix string, start time.Time, hours, seconds int, out chan<- []string) {
	for h := 0; h < hours; h++ {
		t := start.Add(time.Duration(h) * time.Hour)
		var batch []string
		for sec := 0; sec < seconds; sec++ {
			batch = append(batch, fmt.Sprintf("%s%s-%d-%d-events.json", prefix,
				t.Format("2006-01-02-15"), sec/60, sec%60))
			if len(batch) == 10 {
				out <- batch
				batch = nil
			}
		}
		if len(batch) > 0 {
			out <- batch
		}
	}
	close(out)
}

func stdinKeys(out chan<- []string) {
	sc := bufio.NewScanner(os.Stdin)
	var batch []string
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			batch = append(batch, line)
		}
		if len(batch) == 10 {
			out <- batch
			batch = nil
		}
	}
	if len(batch) > 0 {
		out <- batch
	}
	close(out)
}

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "send" && os.Args[1] != "seed") {
		fmt.Fprintln(os.Stderr, "usage: dw-bench-floor send|seed [flags] (see -h)")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "SQS (send) or S3 (seed) endpoint URL")
	queueURL := fs.String("queue-url", "", "send: the queue")
	bucket := fs.String("bucket", "", "seed: the bucket (must exist)")
	prefix := fs.String("prefix", "", "send: the keys' folder, e.g. in/")
	start := fs.String("start", "", "send: first hour, e.g. 2019-06-01T00:00")
	hours := fs.Int("hours", 24, "send: hours")
	seconds := fs.Int("seconds", 3600, "send: files per hour")
	concurrency := fs.Int("concurrency", 32, "calls in flight")
	fs.Parse(os.Args[2:])
	s := &signer{region: os.Getenv("AWS_REGION"), keyID: os.Getenv("AWS_ACCESS_KEY_ID"),
		secret: os.Getenv("AWS_SECRET_ACCESS_KEY"), token: os.Getenv("AWS_SESSION_TOKEN")}
	if s.region == "" {
		s.region = "us-east-1"
	}
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: *concurrency, MaxIdleConnsPerHost: *concurrency,
		MaxConnsPerHost: *concurrency, DisableCompression: true}}
	keys := make(chan []string, 4**concurrency)
	var n counts
	var wg sync.WaitGroup
	if os.Args[1] == "send" {
		t, err := time.Parse("2006-01-02T15:04", *start)
		if err != nil {
			fmt.Fprintln(os.Stderr, "send: -start:", err)
			os.Exit(2)
		}
		go floorKeys(*prefix, t, *hours, *seconds, keys)
	} else {
		go stdinKeys(keys)
	}
	for i := 0; i < *concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if os.Args[1] == "send" {
				sendFloor(c, s, strings.TrimRight(*endpoint, "/"), *queueURL, keys, &n)
			} else {
				seed(c, s, strings.TrimRight(*endpoint, "/"), *bucket, keys, &n)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("{\"sent\": %d, \"failed\": %d, \"requests\": %d}\n", n.sent, n.failed, n.requests)
	if n.failed > 0 {
		os.Exit(1)
	}
}
