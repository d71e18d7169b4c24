package procstat

import (
	"os"
	"testing"
)

func TestOwnProcess(t *testing.T) {
	// Spend some CPU so that utime+stime is above zero.
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i
	}
	_ = x
	cpu, err := CPUSeconds(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Fatalf("cpu %v, %v", cpu, err)
	}
	if kb := RSSKB(os.Getpid()); kb <= 0 {
		t.Fatalf("rss %d kB", kb)
	}
	if _, _, err := CPU(1 << 30); err == nil {
		t.Fatal("no error for a pid that does not exist")
	}
}
