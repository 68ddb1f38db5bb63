package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadLog: the log written by appendLog (one Dice column per foreground class) reads back,
// as do the older layout with the class Dice space-separated in one column and an old log that a
// resumed run continued; bad logs fail naming metrics.csv.
func TestReadLog(t *testing.T) {
	dir := t.TempDir()
	r := &Run{Dir: dir}
	r.Info.Model.NumClasses = 3
	for _, rec := range []Record{{Step: 1, Loss: 1.5, LR: 0.01, Seconds: 0.5}, {Step: 2, Loss: 1.25, LR: 0.009, Seconds: 1, ValDice: []float64{0.5, 0.7}, MeanDice: 0.6}} {
		if err := r.appendLog(rec); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, MetricsCSVFile))
	if want := "step,loss,lr,seconds,mean_dice,dice_1,dice_2\n1,1.5,0.01,0.50,,,\n2,1.25,0.009,1.00,0.600000,0.5000,0.7000\n"; string(b) != want {
		t.Errorf("metrics.csv:\n%s\nwant:\n%s", b, want)
	}
	old := "step,loss,lr,seconds,mean_dice,val_dice\n1,1.5,0.01,0.50,,\n2,1.25,0.009,1.00,0.600000,0.5 0.7\n"
	mixed := "step,loss,lr,seconds,mean_dice,val_dice\n1,1.5,0.01,0.50,,\n2,1.25,0.009,1.00,0.600000,0.5000,0.7000\n" // an old run resumed
	for name, csv := range map[string]string{"current": string(b), "old": old, "mixed": mixed} {
		if err := os.WriteFile(filepath.Join(dir, MetricsCSVFile), []byte(csv), 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := ReadLog(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].Step != 1 || h[0].Loss != 1.5 || h[0].ValDice != nil || h[1].MeanDice != 0.6 || len(h[1].ValDice) != 2 || h[1].ValDice[1] != 0.7 {
			t.Fatalf("%s log: %+v", name, h)
		}
	}
	for name, bad := range map[string]string{
		"short row":  "step,loss,lr,seconds,mean_dice\n1,2\n",
		"bad number": "step,loss,lr,seconds,mean_dice\n1,x,0.1,0.5,\n",
		"bad dice":   "step,loss,lr,seconds,mean_dice,dice_1\n1,1,0.1,0.5,0.5,y\n",
		"empty":      "step,loss,lr,seconds,mean_dice\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, MetricsCSVFile), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadLog(dir); err == nil || !strings.Contains(err.Error(), MetricsCSVFile) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := ReadLog(t.TempDir()); err == nil {
		t.Error("missing log: no error")
	}
}
