package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/msdkit/msdkit/pkg/msd"
)

// downloadCmd fetches MSD tasks into the data root (resumable, md5-checked,
// atomic); sets already there are verified and kept.
func downloadCmd(args []string) error {
	fs := flag.NewFlagSet("download", flag.ContinueOnError)
	tasks := fs.String("task", "", "comma-separated task names, e.g. Task04_Hippocampus,Task09_Spleen (required)")
	data := fs.String("data", msd.DataRoot(), "MSD data root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tasks == "" {
		return fmt.Errorf("download: -task is required (one of %s)", strings.Join(msd.TaskNames(), ", "))
	}
	var names []string
	for _, n := range strings.Split(*tasks, ",") {
		t, err := msd.Lookup(n)
		if err != nil {
			return err
		}
		names = append(names, t.Name)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := msd.Download(ctx, *data, names...); err != nil {
		return err
	}
	fmt.Printf("data root %s holds %s\n", *data, strings.Join(names, ", "))
	return nil
}
