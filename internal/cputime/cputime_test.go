package cputime

import (
	"os"
	"runtime"
	"testing"
)

// TestProcessGrows burns CPU until the reading moves: it fails if Process
// reports ok but never advances (a constant, or wall time that stood
// still is impossible to tell apart from a stuck reading otherwise).
func TestProcessGrows(t *testing.T) {
	d0, ok := Process()
	if !ok {
		if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
			t.Fatal("Process not available on a unix system")
		}
		t.Skip("CPU time is not measured on " + runtime.GOOS)
	}
	x := uint64(1)
	for i := 0; ; i++ {
		for j := 0; j < 1_000_000; j++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		if d, _ := Process(); d > d0 {
			if x == 0 {
				t.Log(x) // keep the loop
			}
			return
		}
		if i > 10_000 {
			t.Fatalf("CPU time stayed at %v after %d M iterations", d0, i)
		}
	}
}

// TestOfSelf reads this process's own /proc entry on Linux while it burns
// CPU: the reading must move (the kernel updates it in clock ticks, and
// can lag getrusage, so the two are not compared).
func TestOfSelf(t *testing.T) {
	if _, ok := Of(0); ok {
		t.Error("Of(0) ok")
	}
	if runtime.GOOS != "linux" {
		if _, ok := Of(os.Getpid()); ok {
			t.Fatal("Of read a CPU time without /proc")
		}
		t.Skip("/proc is Linux only")
	}
	d0, ok := Of(os.Getpid())
	if !ok {
		t.Fatal("Of(self) not readable")
	}
	x := uint64(1)
	for i := 0; ; i++ {
		for j := 0; j < 1_000_000; j++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		if d, _ := Of(os.Getpid()); d > d0 {
			if x == 0 {
				t.Log(x) // keep the loop
			}
			return
		}
		if i > 10_000 {
			t.Fatalf("Of(self) stayed at %v after %d M iterations", d0, i)
		}
	}
}
