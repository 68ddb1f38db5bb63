package msd

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MarkerFile is written into a set's folder, last, once its archive matched
// its md5 and was fully extracted. A folder without it was not made by the
// downloader (or is an older copy): see State.
const MarkerFile = ".complete"

// Marker is the content of MarkerFile (JSON).
type Marker struct {
	Task    string    `json:"task"`
	MD5     string    `json:"md5"`
	URL     string    `json:"url"`
	Bytes   int64     `json:"bytes"`
	Written time.Time `json:"written"`
}

// State is what is found of a task under a data root.
type State int

const (
	// Missing: no folder (there may be a partial or complete archive).
	Missing State = iota
	// Complete: folder with a marker whose md5 matches the task's.
	Complete
	// Unverified: folder with a dataset.json but no valid marker, e.g. a copy
	// made by hand. It is used as it is and not downloaded again.
	Unverified
	// Invalid: a folder without dataset.json and without marker.
	Invalid
)

func (s State) String() string {
	return [...]string{"missing", "complete", "present (unverified)", "invalid"}[s]
}

// Status describes what is on disk for one task.
type Status struct {
	Task  Task
	Dir   string // <root>/<Task.Name>
	State State
	// PartBytes is the size of an interrupted download (<Task>.tar.part).
	PartBytes int64
	// ArchiveBytes is the size of a downloaded, not yet extracted archive
	// (<Task>.tar), or 0.
	ArchiveBytes int64
	// Note explains an Unverified or Invalid state.
	Note string
}

// Check reports the state of task t under root, reading the marker.
func Check(root string, t Task) Status {
	s := Status{Task: t, Dir: filepath.Join(root, t.Name)}
	archive := filepath.Join(root, t.Name+".tar")
	if fi, err := os.Stat(archive + ".part"); err == nil {
		s.PartBytes = fi.Size()
	}
	if fi, err := os.Stat(archive); err == nil {
		s.ArchiveBytes = fi.Size()
	}
	fi, err := os.Stat(s.Dir)
	if err != nil || !fi.IsDir() {
		s.State = Missing
		return s
	}
	_, dsErr := os.Stat(filepath.Join(s.Dir, "dataset.json"))
	b, err := os.ReadFile(filepath.Join(s.Dir, MarkerFile))
	if err == nil {
		var m Marker
		switch {
		case json.Unmarshal(b, &m) != nil:
			s.Note = "unreadable " + MarkerFile
		case t.MD5 != "" && !strings.EqualFold(m.MD5, t.MD5):
			s.Note = fmt.Sprintf("%s records md5 %s, the task's archive has %s", MarkerFile, m.MD5, t.MD5)
		case dsErr != nil:
			s.Note = "marker present but dataset.json missing"
		default:
			s.State = Complete
			return s
		}
	} else {
		s.Note = "no " + MarkerFile + " marker (not made by the downloader)"
	}
	if dsErr == nil {
		s.State = Unverified
	} else {
		s.State = Invalid
		s.Note = "folder without dataset.json"
	}
	return s
}

// Downloader fetches MSD archives, checks their md5 and extracts them
// atomically under Root. The zero value of every field but Root is usable.
type Downloader struct {
	// Root is the data root; sets land in Root/<Task.Name>.
	Root string
	// BaseURL is the folder URL holding <Task>.tar; empty: $MSD_MIRROR, else
	// DefaultBaseURL.
	BaseURL string
	// Client does the requests; nil: a client without overall timeout.
	Client *http.Client
	// Progress receives progress reports (a bar on a terminal, lines
	// otherwise; under GoNB a live HTML block is shown instead); nil: os.Stderr.
	Progress io.Writer
	// Log receives one-line messages (skips, resumes); nil: os.Stdout.
	Log io.Writer
	// Quiet silences Progress and Log.
	Quiet bool
	// ProgressInterval is the time between progress lines when Progress is
	// not a terminal (0: 10 s).
	ProgressInterval time.Duration
	// MaxAttempts bounds the requests per archive; a dropped connection is
	// resumed with a Range request (0: 5).
	MaxAttempts int
	// RetryDelay is the pause before the n-th retry is n*RetryDelay, at most
	// 30 s (0: 1 s).
	RetryDelay time.Duration
	// KeepArchive keeps <Task>.tar after extraction.
	KeepArchive bool
	// Replace downloads again over an Unverified or Invalid folder (the old
	// folder is removed only once the new set is in place).
	Replace bool
}

// NewDownloader returns a Downloader for root with default settings.
func NewDownloader(root string) *Downloader { return &Downloader{Root: root} }

func (d *Downloader) baseURL() string {
	if d.BaseURL != "" {
		return d.BaseURL
	}
	if m := os.Getenv(EnvMirror); m != "" {
		return m
	}
	return DefaultBaseURL
}

func (d *Downloader) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	return &http.Client{Transport: http.DefaultTransport}
}

func (d *Downloader) progressWriter() io.Writer {
	if d.Quiet {
		return nil
	}
	if d.Progress != nil {
		return d.Progress
	}
	return os.Stderr
}

func (d *Downloader) logf(format string, args ...any) {
	if d.Quiet {
		return
	}
	w := d.Log
	if w == nil {
		w = os.Stdout
	}
	fmt.Fprintf(w, format+"\n", args...)
}

// Fetch makes sure task t is complete under Root and returns its folder. A
// complete set (valid marker) or an unverified one (dataset.json, no marker;
// unless Replace) is left as it is. Otherwise the archive is downloaded
// (resuming <Task>.tar.part), checked against t.MD5, extracted into a hidden
// temporary folder, marked, and renamed into place: an interrupted or failed
// run never leaves a folder that looks complete, and running again finishes.
func (d *Downloader) Fetch(ctx context.Context, t Task) (string, error) {
	if d.Root == "" {
		return "", errors.New("msd: Downloader.Root is empty")
	}
	st := Check(d.Root, t)
	replace := d.Replace
	switch st.State {
	case Complete:
		if _, err := OpenDir(st.Dir); err != nil {
			d.logf("%s: marked complete, but %v; downloading it again", t.Name, err)
			replace = true
			break
		}
		d.logf("%s: complete (md5 %s verified at download, every listed file present), skipping", t.Name, t.MD5)
		return st.Dir, nil
	case Unverified:
		if !d.Replace {
			d.logf("%s: present in %s, %s; using it as it is", t.Name, st.Dir, st.Note)
			return st.Dir, nil
		}
	case Invalid:
		if !d.Replace {
			return "", fmt.Errorf("msd: %s exists but is not an MSD set (%s); move it away or set Replace", st.Dir, st.Note)
		}
	}
	if err := os.MkdirAll(d.Root, 0o755); err != nil {
		return "", fmt.Errorf("msd: creating data root: %w", err)
	}
	// One process per task and root: a second one waits, then finds the set
	// complete (or resumes what the first left).
	unlock, err := lockFile(filepath.Join(d.Root, "."+t.Name+".lock"), func() {
		d.logf("%s: another process is downloading it; waiting", t.Name)
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	if !replace {
		if st2 := Check(d.Root, t); st2.State == Complete {
			d.logf("%s: completed by another process", t.Name)
			return st2.Dir, nil
		}
	}
	removeStaleTemps(d.Root, t.Name)
	archive := filepath.Join(d.Root, t.Name+".tar")
	sum, size, err := d.fetchArchive(ctx, t, archive)
	if err != nil {
		return "", err
	}
	if err := d.install(t, archive, sum, size); err != nil {
		return "", err
	}
	if !d.KeepArchive {
		os.Remove(archive)
	}
	d.logf("%s: ready in %s", t.Name, st.Dir)
	return st.Dir, nil
}

// removeStaleTemps removes extraction folders left by killed runs.
func removeStaleTemps(root, name string) {
	matches, _ := filepath.Glob(filepath.Join(root, "."+name+".tmp-*"))
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

// install extracts archive into a temporary folder under Root, writes the
// marker and renames the set into Root/<Task.Name>.
func (d *Downloader) install(t Task, archive, sum string, size int64) (err error) {
	tmp, err := os.MkdirTemp(d.Root, "."+t.Name+".tmp-")
	if err != nil {
		return fmt.Errorf("msd: %w", err)
	}
	defer os.RemoveAll(tmp)
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("msd: %w", err)
	}
	p := newProgress(d.progressWriter(), t.Name+" extract", size, 0, d.ProgressInterval)
	err = extractTar(io.TeeReader(f, p), tmp, archive)
	f.Close()
	if err != nil {
		p.Finish("failed")
		return err
	}
	p.Finish("")
	src := filepath.Join(tmp, t.Name)
	if _, err := os.Stat(filepath.Join(src, "dataset.json")); err != nil {
		src = tmp
		if _, err := os.Stat(filepath.Join(src, "dataset.json")); err != nil {
			return fmt.Errorf("msd: %s: no dataset.json at the top or under %s/", archive, t.Name)
		}
	}
	m := Marker{Task: t.Name, MD5: sum, URL: t.URL(d.baseURL()), Bytes: size, Written: time.Now().UTC()}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := writeFileSync(filepath.Join(src, MarkerFile), append(b, '\n')); err != nil {
		return fmt.Errorf("msd: writing marker: %w", err)
	}
	dst := filepath.Join(d.Root, t.Name)
	if _, err := os.Lstat(dst); err == nil {
		// Replace: move the old folder into tmp (removed with it) first.
		if err := os.Rename(dst, filepath.Join(tmp, ".old")); err != nil {
			return fmt.Errorf("msd: moving old %s aside: %w", dst, err)
		}
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("msd: %w", err)
	}
	syncDir(d.Root)
	return nil
}

func writeFileSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// fetchArchive makes sure archive holds the task's verified archive and
// returns its md5 and size. A present archive is re-verified; otherwise the
// download goes to archive+".part" (resumed when present) and is renamed to
// archive after the md5 matched.
func (d *Downloader) fetchArchive(ctx context.Context, t Task, archive string) (string, int64, error) {
	if fi, err := os.Stat(archive); err == nil {
		sum, err := d.md5File(t.Name+" verify", archive, fi.Size())
		if err != nil {
			return "", 0, err
		}
		if t.MD5 == "" || strings.EqualFold(sum, t.MD5) {
			d.logf("%s: using downloaded %s (md5 ok)", t.Name, archive)
			return sum, fi.Size(), nil
		}
		d.logf("%s: %s has md5 %s, want %s: removing it and downloading again", t.Name, archive, sum, t.MD5)
		os.Remove(archive)
	}
	part := archive + ".part"
	url := t.URL(d.baseURL())
	attempts := d.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	delay := d.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	var sum string
	var err error
	for i := 1; ; i++ {
		var retry bool
		sum, retry, err = d.downloadOnce(ctx, t, url, part)
		if err == nil {
			break
		}
		if !retry || i >= attempts || ctx.Err() != nil {
			if fi, serr := os.Stat(part); serr == nil && fi.Size() == 0 {
				os.Remove(part)
				return "", 0, err
			}
			return "", 0, fmt.Errorf("%w (the partial download %s is kept; run again to resume)", err, part)
		}
		wait := min(time.Duration(i)*delay, 30*time.Second)
		d.logf("%s: %v; resuming in %s (attempt %d of %d)", t.Name, err, wait, i+1, attempts)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
	}
	fi, err := os.Stat(part)
	if err != nil {
		return "", 0, fmt.Errorf("msd: %w", err)
	}
	if t.MD5 != "" && !strings.EqualFold(sum, t.MD5) {
		os.Remove(part)
		return "", 0, fmt.Errorf("msd: %s: md5 of the downloaded archive (%s, %d bytes) is %s, want %s; removed it, run again to download anew",
			t.Name, url, fi.Size(), sum, t.MD5)
	}
	if err := os.Rename(part, archive); err != nil {
		return "", 0, fmt.Errorf("msd: %w", err)
	}
	return sum, fi.Size(), nil
}

// md5File hashes a file with progress.
func (d *Downloader) md5File(label, name string, size int64) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("msd: %w", err)
	}
	defer f.Close()
	h := md5.New()
	p := newProgress(d.progressWriter(), label, size, 0, d.ProgressInterval)
	if _, err := io.Copy(io.MultiWriter(h, p), f); err != nil {
		p.Finish("failed")
		return "", fmt.Errorf("msd: reading %s: %w", name, err)
	}
	p.Finish("")
	return hex.EncodeToString(h.Sum(nil)), nil
}

// downloadOnce makes one request, appending to part from its current size,
// and returns the md5 of the whole part file once the server has sent
// everything. retry says whether a further attempt may succeed.
func (d *Downloader) downloadOnce(ctx context.Context, t Task, url, part string) (sum string, retry bool, err error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", false, fmt.Errorf("msd: %w", err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "", false, fmt.Errorf("msd: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", false, fmt.Errorf("msd: %w", err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return "", ctx.Err() == nil, fmt.Errorf("msd: %s: %w", url, err)
	}
	defer resp.Body.Close()
	total := int64(-1)
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, tot, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			if err := f.Truncate(0); err != nil {
				return "", false, fmt.Errorf("msd: %w", err)
			}
			return "", true, fmt.Errorf("msd: %s: answer to a resume at byte %d has Content-Range %q; restarting from the beginning",
				url, have, resp.Header.Get("Content-Range"))
		}
		total = tot
		d.logf("%s: resuming download at %s", t.Name, HumanBytes(have))
	case resp.StatusCode == http.StatusOK:
		if have > 0 {
			d.logf("%s: the server ignored the Range request; downloading again from the start", t.Name)
			if err := f.Truncate(0); err != nil {
				return "", false, fmt.Errorf("msd: %w", err)
			}
			have = 0
		}
		total = resp.ContentLength
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		if _, tot, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && tot == have {
			return hashFile(f, part) // the part was already complete
		}
		if err := f.Truncate(0); err != nil {
			return "", false, fmt.Errorf("msd: %w", err)
		}
		return "", true, fmt.Errorf("msd: %s: the partial download (%d bytes) does not fit the archive; restarting", url, have)
	default:
		return "", resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
			fmt.Errorf("msd: %s: %s", url, resp.Status)
	}
	// Hash what is already there, then everything appended.
	h := md5.New()
	if have > 0 {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", false, fmt.Errorf("msd: %w", err)
		}
		if _, err := io.CopyN(h, f, have); err != nil {
			return "", false, fmt.Errorf("msd: reading %s: %w", part, err)
		}
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return "", false, fmt.Errorf("msd: %w", err)
	}
	p := newProgress(d.progressWriter(), t.Name+" download", total, have, d.ProgressInterval)
	n, err := io.Copy(io.MultiWriter(f, h, p), resp.Body)
	if serr := f.Sync(); err == nil && serr != nil {
		err = serr
	}
	got := have + n
	if err != nil {
		p.Finish("interrupted")
		return "", ctx.Err() == nil, fmt.Errorf("msd: %s: connection lost after %s: %w", url, HumanBytes(got), err)
	}
	if total >= 0 && got != total {
		p.Finish("incomplete")
		return "", true, fmt.Errorf("msd: %s: server sent %d of %d bytes", url, got, total)
	}
	p.Finish("")
	return hex.EncodeToString(h.Sum(nil)), false, nil
}

func hashFile(f *os.File, name string) (string, bool, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", false, fmt.Errorf("msd: %w", err)
	}
	var h hash.Hash = md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", false, fmt.Errorf("msd: reading %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), false, nil
}

// parseContentRange parses "bytes start-end/total" and "bytes */total".
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total = t
	}
	if rng == "*" {
		return -1, total, true
	}
	a, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return start, total, true
}
