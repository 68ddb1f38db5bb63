package msd

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tarEntry is one entry of a test archive.
type tarEntry struct {
	name     string
	body     []byte
	typeflag byte // 0: regular file
	linkname string
}

func makeTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: e.typeflag, Linkname: e.linkname, ModTime: time.Unix(1e9, 0)}
		switch e.typeflag {
		case 0, tar.TypeReg:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		case tar.TypeDir:
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// testTask is a task served by the test servers.
func testTask(archive []byte) Task {
	return Task{Number: 99, Name: "Task99_Test", Modalities: []string{"MRI"}, Labels: []string{"background", "a", "b"},
		Dims: 3, MD5: md5hex(archive), Size: int64(len(archive))}
}

// server serves one archive under /Task99_Test.tar. cutAfter > 0 makes the
// first cutTimes requests send only that many bytes (then drop the
// connection); ignoreRange answers every request with the whole file.
type server struct {
	*httptest.Server
	mu          sync.Mutex
	data        []byte
	cutAfter    int
	cutTimes    int
	ignoreRange bool
	status      int
	ranges      []string // Range header of each request
}

func newServer(t testing.TB, data []byte) *server {
	s := &server{data: data}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Server = &httptest.Server{Listener: l, Config: &http.Server{Handler: s}}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	cut := s.cutTimes > 0 && s.cutAfter > 0
	if cut {
		s.cutTimes--
	}
	s.mu.Unlock()
	if r.URL.Path != "/Task99_Test.tar" && r.URL.Path != "/Task04_Hippocampus.tar" {
		http.NotFound(w, r)
		return
	}
	if s.status != 0 {
		http.Error(w, "broken", s.status)
		return
	}
	if cut || s.ignoreRange {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
		w.WriteHeader(http.StatusOK)
		if cut {
			w.Write(s.data[:s.cutAfter])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drops the connection mid-body
		}
		w.Write(s.data)
		return
	}
	http.ServeContent(w, r, "Task99_Test.tar", time.Unix(1e9, 0), bytes.NewReader(s.data))
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

func newTestDownloader(root, url string) (*Downloader, *bytes.Buffer) {
	var log bytes.Buffer
	return &Downloader{Root: root, BaseURL: url, Progress: &log, Log: &log, RetryDelay: time.Millisecond,
		ProgressInterval: time.Hour}, &log
}

// syntheticSetEntries is an MSD-layout archive with placeholder volume bytes
// (the downloader does not look into the files), AppleDouble junk, a
// symlink inside the set and a fifo.
func syntheticSetEntries() []tarEntry {
	ds := `{"name":"Test","modality":{"0":"MRI"},"labels":{"0":"background","1":"a","2":"b"},"numTraining":2,` +
		`"training":[{"image":"./imagesTr/c_001.nii.gz","label":"./labelsTr/c_001.nii.gz"},` +
		`{"image":"./imagesTr/c_002.nii.gz","label":"./labelsTr/c_002.nii.gz"}],"test":["./imagesTs/c_003.nii.gz"]}`
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 kB so cuts land mid-file
	return []tarEntry{
		{name: "Task99_Test/", typeflag: tar.TypeDir},
		{name: "Task99_Test/dataset.json", body: []byte(ds)},
		{name: "Task99_Test/._dataset.json", body: []byte("apple double")},
		{name: "Task99_Test/imagesTr/c_001.nii.gz", body: big},
		{name: "Task99_Test/imagesTr/._c_001.nii.gz", body: []byte("junk")},
		{name: "Task99_Test/imagesTr/c_002.nii.gz", body: []byte("image 2")},
		{name: "Task99_Test/labelsTr/c_001.nii.gz", body: []byte("label 1")},
		{name: "Task99_Test/labelsTr/c_002.nii.gz", body: []byte("label 2")},
		{name: "Task99_Test/imagesTs/c_003.nii.gz", body: []byte("test 3")},
		{name: "Task99_Test/imagesTs/copy.nii.gz", typeflag: tar.TypeSymlink, linkname: "c_003.nii.gz"},
		{name: "Task99_Test/fifo", typeflag: tar.TypeFifo},
	}
}

func checkComplete(t *testing.T, root string, task Task, want []tarEntry) {
	t.Helper()
	st := Check(root, task)
	if st.State != Complete {
		t.Fatalf("state %v (%s), want complete", st.State, st.Note)
	}
	for _, e := range want {
		p := filepath.Join(root, filepath.FromSlash(e.name))
		base := filepath.Base(p)
		switch {
		case strings.HasPrefix(base, "._") || base == "fifo":
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s was extracted, want it skipped", e.name)
			}
		case e.typeflag == tar.TypeSymlink:
			fi, err := os.Lstat(p)
			if err != nil || fi.Mode()&os.ModeSymlink != 0 {
				t.Errorf("%s: want a copy of its target, got %v %v", e.name, fi, err)
			}
		case e.typeflag == 0:
			b, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(b, e.body) {
				t.Errorf("%s: content differs (%v)", e.name, err)
			}
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "*.tar*"))
	tmps, _ := filepath.Glob(filepath.Join(root, ".Task99_Test.tmp-*"))
	if len(leftovers)+len(tmps) > 0 {
		t.Errorf("leftovers after success: %v %v", leftovers, tmps)
	}
}

// checkNoSet asserts that a failed run left nothing that looks like a set.
func checkNoSet(t *testing.T, root string, task Task) {
	t.Helper()
	if st := Check(root, task); st.State != Missing {
		t.Errorf("after failure: state %v, want missing", st.State)
	}
	tmps, _ := filepath.Glob(filepath.Join(root, ".Task99_Test.tmp-*"))
	if len(tmps) > 0 {
		t.Errorf("temporary folders left: %v", tmps)
	}
}

func TestFetchSuccessAndIdempotent(t *testing.T) {
	entries := syntheticSetEntries()
	data := makeTar(t, entries)
	task := testTask(data)
	srv := newServer(t, data)
	root := t.TempDir()
	d, _ := newTestDownloader(root, srv.URL)
	dir, err := d.Fetch(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(root, task.Name) {
		t.Errorf("dir %s", dir)
	}
	checkComplete(t, root, task, entries)
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	// Running again verifies the marker and downloads nothing.
	if _, err := d.Fetch(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("re-run made requests: %d in all", n)
	}
	// A marked set that lost a listed file is downloaded again and replaced.
	lost := filepath.Join(root, task.Name, "labelsTr", "c_002.nii.gz")
	os.Remove(lost)
	if _, err := d.Fetch(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.requests()); n != 2 {
		t.Errorf("%d requests in all, want 2", n)
	}
	checkComplete(t, root, task, entries)
	// A marker recording another md5 no longer counts as complete.
	other := task
	other.MD5 = strings.Repeat("0", 32)
	if st := Check(root, other); st.State != Unverified {
		t.Errorf("state with foreign md5: %v", st.State)
	}
}

func TestFetchResume(t *testing.T) {
	data := makeTar(t, syntheticSetEntries())
	task := testTask(data)
	const cut = 10000
	t.Run("same run", func(t *testing.T) {
		srv := newServer(t, data)
		srv.cutAfter, srv.cutTimes = cut, 1
		root := t.TempDir()
		d, log := newTestDownloader(root, srv.URL)
		if _, err := d.Fetch(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		checkComplete(t, root, task, syntheticSetEntries())
		got := srv.requests()
		if len(got) != 2 || got[0] != "" || got[1] != "bytes=10000-" {
			t.Errorf("requests %q, want a plain one then a resume at 10000", got)
		}
		if !strings.Contains(log.String(), "resuming") {
			t.Errorf("log does not mention the resume:\n%s", log)
		}
	})
	t.Run("next run", func(t *testing.T) {
		srv := newServer(t, data)
		srv.cutAfter, srv.cutTimes = cut, 1
		root := t.TempDir()
		d, _ := newTestDownloader(root, srv.URL)
		d.MaxAttempts = 1
		if _, err := d.Fetch(context.Background(), task); err == nil || !strings.Contains(err.Error(), "run again to resume") {
			t.Fatalf("err %v, want a connection error", err)
		}
		checkNoSet(t, root, task)
		if st := Check(root, task); st.PartBytes != cut {
			t.Fatalf("partial download %d bytes, want %d", st.PartBytes, cut)
		}
		if _, err := d.Fetch(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		checkComplete(t, root, task, syntheticSetEntries())
		if got := srv.requests(); len(got) != 2 || got[1] != "bytes=10000-" {
			t.Errorf("requests %q", got)
		}
	})
	t.Run("server ignores Range", func(t *testing.T) {
		srv := newServer(t, data)
		srv.cutAfter, srv.cutTimes = cut, 1
		srv.ignoreRange = true
		root := t.TempDir()
		d, log := newTestDownloader(root, srv.URL)
		if _, err := d.Fetch(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		checkComplete(t, root, task, syntheticSetEntries())
		if got := srv.requests(); len(got) != 2 || got[1] != "bytes=10000-" {
			t.Errorf("requests %q", got)
		}
		if !strings.Contains(log.String(), "ignored the Range") {
			t.Errorf("log does not mention the restart:\n%s", log)
		}
	})
	t.Run("complete part", func(t *testing.T) {
		// A .part holding everything (killed before the rename): 416 answer.
		srv := newServer(t, data)
		root := t.TempDir()
		os.WriteFile(filepath.Join(root, task.Name+".tar.part"), data, 0o644)
		d, _ := newTestDownloader(root, srv.URL)
		if _, err := d.Fetch(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		checkComplete(t, root, task, syntheticSetEntries())
	})
	t.Run("oversized part", func(t *testing.T) {
		// A .part longer than the archive (another version): 416, restart.
		srv := newServer(t, data)
		root := t.TempDir()
		os.WriteFile(filepath.Join(root, task.Name+".tar.part"), append(slices.Clone(data), make([]byte, 100)...), 0o644)
		d, _ := newTestDownloader(root, srv.URL)
		if _, err := d.Fetch(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		checkComplete(t, root, task, syntheticSetEntries())
		if got := srv.requests(); len(got) != 2 || got[1] != "" {
			t.Errorf("requests %q, want a resume then a full download", got)
		}
	})
	t.Run("archive present", func(t *testing.T) {
		// A verified archive killed before extraction is reused without requests.
		srv := newServer(t, data)
		srv.status = http.StatusInternalServerError
		root := t.TempDir()
		os.WriteFile(filepath.Join(root, task.Name+".tar"), data, 0o644)
		d, _ := newTestDownloader(root, srv.URL)
		if _, err := d.Fetch(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		checkComplete(t, root, task, syntheticSetEntries())
		if n := len(srv.requests()); n != 0 {
			t.Errorf("%d requests", n)
		}
	})
}

func TestFetchFailures(t *testing.T) {
	data := makeTar(t, syntheticSetEntries())
	truncated := data[:len(data)/2]
	tests := []struct {
		name    string
		serve   []byte
		md5     string
		status  int
		cut     int // cut every request after this many bytes
		want    string
		partSet bool // a .part is kept for resuming
	}{
		{name: "wrong checksum", serve: data, md5: strings.Repeat("ab", 16), want: "md5 of the downloaded archive"},
		{name: "truncated archive", serve: truncated, md5: md5hex(truncated), want: "truncated"},
		{name: "server cuts every time", serve: data, md5: md5hex(data), cut: 5000, want: "connection lost", partSet: true},
		{name: "not found", serve: data, md5: md5hex(data), status: http.StatusNotFound, want: "404"},
		{name: "not a tar", serve: bytes.Repeat([]byte{7}, 3000), md5: md5hex(bytes.Repeat([]byte{7}, 3000)), want: "Task99_Test.tar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.serve)
			srv.status = tc.status
			if tc.cut > 0 {
				srv.cutAfter, srv.cutTimes = tc.cut, 1000
			}
			task := testTask(data)
			task.MD5 = tc.md5
			root := t.TempDir()
			d, _ := newTestDownloader(root, srv.URL)
			d.MaxAttempts = 3
			_, err := d.Fetch(context.Background(), task)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
			checkNoSet(t, root, task)
			_, perr := os.Stat(filepath.Join(root, task.Name+".tar.part"))
			if (perr == nil) != tc.partSet {
				t.Errorf(".part kept: %v, want %v", perr == nil, tc.partSet)
			}
			if tc.status == http.StatusNotFound && len(srv.requests()) != 1 {
				t.Errorf("404 was retried: %d requests", len(srv.requests()))
			}
		})
	}
}

func TestFetchHostileArchives(t *testing.T) {
	ds := tarEntry{name: "Task99_Test/dataset.json", body: []byte(`{}`)}
	tests := []struct {
		name  string
		entry tarEntry
	}{
		{"dot-dot", tarEntry{name: "Task99_Test/../../evil", body: []byte("x")}},
		{"leading dot-dot", tarEntry{name: "../evil", body: []byte("x")}},
		{"absolute", tarEntry{name: "/tmp/evil", body: []byte("x")}},
		{"symlink out", tarEntry{name: "Task99_Test/link", typeflag: tar.TypeSymlink, linkname: "../../evil"}},
		{"symlink absolute", tarEntry{name: "Task99_Test/link", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"}},
		{"hardlink out", tarEntry{name: "Task99_Test/link", typeflag: tar.TypeLink, linkname: "../evil"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := makeTar(t, []tarEntry{ds, tc.entry, {name: "Task99_Test/after", body: []byte("y")}})
			task := testTask(data)
			srv := newServer(t, data)
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			d, _ := newTestDownloader(root, srv.URL)
			_, err := d.Fetch(context.Background(), task)
			if err == nil || !strings.Contains(err.Error(), tc.entry.name) {
				t.Fatalf("err %v, want one naming %q", err, tc.entry.name)
			}
			checkNoSet(t, root, task)
			for _, p := range []string{filepath.Join(parent, "evil"), filepath.Join(root, "evil")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

func TestFetchExistingFolders(t *testing.T) {
	data := makeTar(t, syntheticSetEntries())
	task := testTask(data)
	srv := newServer(t, data)
	root := t.TempDir()
	dir := filepath.Join(root, task.Name)
	os.MkdirAll(dir, 0o755)
	d, _ := newTestDownloader(root, srv.URL)
	// Folder without dataset.json: refused.
	if _, err := d.Fetch(context.Background(), task); err == nil || !strings.Contains(err.Error(), "not an MSD set") {
		t.Fatalf("err %v", err)
	}
	// A set copied by hand: used as it is.
	os.WriteFile(filepath.Join(dir, "dataset.json"), []byte("{}"), 0o644)
	if _, err := d.Fetch(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("%d requests for a present set", n)
	}
	// Replace swaps it for the verified download.
	d.Replace = true
	if _, err := d.Fetch(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, root, task, syntheticSetEntries())
}

func TestDownloadFastModeSkips(t *testing.T) {
	t.Setenv(EnvFast, "1")
	srv := newServer(t, []byte("x"))
	root := t.TempDir()
	d, _ := newTestDownloader(root, srv.URL)
	var out bytes.Buffer
	if err := DownloadTo(context.Background(), &out, d, "Task04_Hippocampus"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "downloading skipped") || len(srv.requests()) != 0 {
		t.Errorf("fast mode: %q, %d requests", out.String(), len(srv.requests()))
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-199/1000", 100, 1000, true},
		{"bytes 0-0/*", 0, -1, true},
		{"bytes */1000", -1, 1000, true},
		{"items 1-2/3", 0, 0, false},
		{"bytes 1-2", 0, 0, false},
		{"bytes x-2/3", 0, 0, false},
	}
	for _, tc := range tests {
		s, n, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (s != tc.start || n != tc.total)) {
			t.Errorf("%q: %d %d %v", tc.in, s, n, ok)
		}
	}
}

func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "x download", 1000, 0, time.Nanosecond)
	p.Write(make([]byte, 500))
	p.Write(make([]byte, 500))
	p.Finish("done")
	out := buf.String()
	if !strings.Contains(out, " 50.0% 500 B / 1.0 kB") || !strings.Contains(out, "100.0% 1.0 kB / 1.0 kB") || !strings.Contains(out, "- done") || strings.Contains(out, "\r") {
		t.Errorf("progress lines:\n%s", out)
	}
}

func TestFetchConcurrent(t *testing.T) {
	entries := syntheticSetEntries()
	data := makeTar(t, entries)
	task := testTask(data)
	srv := newServer(t, data)
	root := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, _ := newTestDownloader(root, srv.URL)
			_, errs[i] = d.Fetch(context.Background(), task)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkComplete(t, root, task, entries)
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d downloads, want 1", n)
	}
}

func TestFetchCancelled(t *testing.T) {
	data := makeTar(t, syntheticSetEntries())
	task := testTask(data)
	srv := newServer(t, data)
	root := t.TempDir()
	d, _ := newTestDownloader(root, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Fetch(ctx, task); err == nil {
		t.Fatal("cancelled fetch succeeded")
	}
	checkNoSet(t, root, task)
}
