package fastcpu

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// nativeRuns counts native op executions (for tests and statistics).
var nativeRuns atomic.Int64

// step is one unit of execution: a SimpleGo sub-executable or a native call.
type step struct {
	sub     backends.Executable // SimpleGo sub-graph, or nil for a native call.
	native  *call
	inputs  []int // value slots read
	outputs []int // value slots written
	// copies are value slots a sub-graph computes with the same SimpleGo op as an earlier output
	// (SimpleGo merges identical ops): {source slot, copy slot}, filled with a copy after the run.
	copies [][2]int
	name   string
}

// Executable implements backends.Executable.
type Executable struct {
	backend      *Backend
	name         string
	steps        []step
	paramSlots   []int
	paramNames   []string
	paramShapes  []shapes.Shape
	outputSlots  []int
	outputShapes []shapes.Shape
	uses         []int // static number of reads of each slot (steps + final outputs).
	slotShapes   []shapes.Shape
	numSlots     int
	finalized    bool
}

// Compile implements backends.Builder: it partitions the recorded graph into native calls and
// SimpleGo sub-graphs. Native call at level L runs after sub-graph L-1 and before sub-graph L, where
// the level of a native call is 1 + max(level of inputs) and of any other call max(level of inputs).
func (b *Builder) Compile(outputOps []backends.Op, shardings []*backends.ShardingSpec) (backends.Executable, error) {
	if len(shardings) > 0 {
		return nil, errors.Errorf("fastcpu: sharding not supported")
	}
	if b.compiled {
		return nil, errors.Errorf("fastcpu: builder %q already compiled", b.name)
	}
	b.compiled = true
	outputs := make([]*value, len(outputOps))
	for i, op := range outputOps {
		v, err := b.toValue(op)
		if err != nil {
			return nil, errors.WithMessagef(err, "fastcpu: output #%d", i)
		}
		outputs[i] = v
	}

	if b.backend.reference {
		for _, c := range b.calls {
			c.native = nil
		}
	} else if nativeElementwise {
		b.foldBroadcasts()
	}
	// Reachable calls (calls are created after their inputs: index order is topological).
	reach := make([]bool, len(b.calls))
	var mark func(c *call)
	mark = func(c *call) {
		if reach[c.idx] {
			return
		}
		reach[c.idx] = true
		for _, in := range c.inputs {
			mark(in.call)
		}
	}
	for _, v := range outputs {
		mark(v.call)
	}

	// Free calls and levels.
	maxLevel := 0
	for _, c := range b.calls {
		if !reach[c.idx] {
			continue
		}
		c.free = c.paramIdx < 0 && c.native == nil
		lvl := 0
		for _, in := range c.inputs {
			c.free = c.free && in.call.free
			lvl = max(lvl, in.call.level)
		}
		if c.native != nil {
			lvl++
		}
		c.level = lvl
		maxLevel = max(maxLevel, lvl)
	}
	// Free values consumed by natives or returned are materialised in sub-graph 0.
	for _, v := range outputs {
		v.call.free = false
	}
	for _, c := range b.calls {
		if reach[c.idx] && c.native != nil {
			for _, in := range c.inputs {
				in.call.free = false
			}
		}
	}
	// un-freeing a call requires its (free) inputs stay free: fine, they are rebuilt in sub-graph 0.

	if os.Getenv("FASTCPU_DEBUG") != "" {
		b.printOpSummary(reach)
	}
	e := &Executable{backend: b.backend, name: b.name, numSlots: b.numValues}
	e.slotShapes = make([]shapes.Shape, b.numValues)
	for _, c := range b.calls {
		for _, v := range c.outputs {
			e.slotShapes[v.id] = v.shape
		}
	}
	for _, p := range b.params {
		e.paramSlots = append(e.paramSlots, p.id)
		e.paramNames = append(e.paramNames, fmt.Sprintf("p%d", p.call.paramIdx))
		e.paramShapes = append(e.paramShapes, p.shape)
	}
	for _, v := range outputs {
		e.outputSlots = append(e.outputSlots, v.id)
		e.outputShapes = append(e.outputShapes, v.shape)
	}

	// Group calls by level.
	lightByLevel := make([][]*call, maxLevel+1)
	nativeByLevel := make([][]*call, maxLevel+1)
	for _, c := range b.calls {
		if !reach[c.idx] || c.paramIdx >= 0 || c.free {
			continue
		}
		if c.native != nil {
			nativeByLevel[c.level] = append(nativeByLevel[c.level], c)
		} else {
			lightByLevel[c.level] = append(lightByLevel[c.level], c)
		}
	}
	// Which values are needed outside the sub-graph that computes them.
	externalUse := make([]bool, b.numValues)
	for _, v := range outputs {
		externalUse[v.id] = true
	}
	for _, c := range b.calls {
		if !reach[c.idx] {
			continue
		}
		for _, in := range c.inputs {
			if in.call.free {
				continue
			}
			if c.free || c.native != nil || in.call.native != nil || in.call.paramIdx >= 0 || in.call.level != c.level {
				externalUse[in.id] = true
			}
		}
	}

	for lvl := 0; lvl <= maxLevel; lvl++ {
		for _, c := range nativeByLevel[lvl] {
			st := step{native: c, name: c.String()}
			for _, in := range c.inputs {
				st.inputs = append(st.inputs, in.id)
			}
			st.outputs = []int{c.outputs[0].id}
			e.steps = append(e.steps, st)
		}
		if len(lightByLevel[lvl]) > 0 {
			st, err := b.buildSubGraph(lvl, lightByLevel[lvl], externalUse)
			if err != nil {
				return nil, err
			}
			if st != nil {
				e.steps = append(e.steps, *st)
			}
		}
	}
	e.uses = make([]int, b.numValues)
	for _, st := range e.steps {
		for _, s := range st.inputs {
			e.uses[s]++
		}
	}
	for _, s := range e.outputSlots {
		e.uses[s]++
	}
	return e, nil
}

// buildSubGraph compiles the light calls of one level as a SimpleGo executable.
func (b *Builder) buildSubGraph(lvl int, calls []*call, externalUse []bool) (*step, error) {
	name := fmt.Sprintf("%s/sub%d", b.name, lvl)
	sb := b.backend.sg.Builder(name)
	local := make(map[*value]backends.Op)
	st := &step{name: name}
	var resolve func(v *value) (backends.Op, error)
	var buildCall func(c *call) error
	buildCall = func(c *call) error {
		ins := make([]backends.Op, len(c.inputs))
		for i, in := range c.inputs {
			op, err := resolve(in)
			if err != nil {
				return err
			}
			ins[i] = op
		}
		outs, err := c.build(sb, ins)
		if err != nil {
			return errors.WithMessagef(err, "fastcpu: building %s in sub-graph %s", c, name)
		}
		for i, v := range c.outputs {
			local[v] = outs[i]
		}
		return nil
	}
	resolve = func(v *value) (backends.Op, error) {
		if op, ok := local[v]; ok {
			return op, nil
		}
		if v.call.free {
			if err := buildCall(v.call); err != nil {
				return nil, err
			}
			return local[v], nil
		}
		// External value: parameter of the sub-graph.
		op, err := sb.Parameter(fmt.Sprintf("v%d", v.id), v.shape, nil)
		if err != nil {
			return nil, err
		}
		local[v] = op
		st.inputs = append(st.inputs, v.id)
		return op, nil
	}
	var outOps []backends.Op
	outSlot := make(map[backends.Op]int)
	for _, c := range calls {
		if err := buildCall(c); err != nil {
			return nil, err
		}
		for _, v := range c.outputs {
			if !externalUse[v.id] {
				continue
			}
			op := local[v]
			if src, dup := outSlot[op]; dup {
				st.copies = append(st.copies, [2]int{src, v.id})
				continue
			}
			outSlot[op] = v.id
			outOps = append(outOps, op)
			st.outputs = append(st.outputs, v.id)
		}
	}
	if len(outOps) == 0 {
		return nil, nil
	}
	exec, err := sb.Compile(outOps, nil)
	if err != nil {
		return nil, errors.WithMessagef(err, "fastcpu: compiling sub-graph %s", name)
	}
	st.sub = exec
	return st, nil
}

// Finalize implements backends.Executable.
func (e *Executable) Finalize() {
	for _, st := range e.steps {
		if st.sub != nil {
			st.sub.Finalize()
		}
	}
	e.steps = nil
	e.finalized = true
}

// Inputs implements backends.Executable.
func (e *Executable) Inputs() (names []string, inputShapes []shapes.Shape) {
	return slices.Clone(e.paramNames), slices.Clone(e.paramShapes)
}

// Outputs implements backends.Executable.
func (e *Executable) Outputs() []shapes.Shape { return slices.Clone(e.outputShapes) }

// Execute implements backends.Executable.
func (e *Executable) Execute(inputs []backends.Buffer, donate []bool, _ backends.DeviceNum) ([]backends.Buffer, error) {
	if e.finalized {
		return nil, errors.Errorf("fastcpu: %s: executable already finalized", e.name)
	}
	if len(inputs) != len(e.paramSlots) {
		return nil, errors.Errorf("fastcpu: %s: expected %d inputs, got %d", e.name, len(e.paramSlots), len(inputs))
	}
	sg := e.backend.sg
	slots := make([]backends.Buffer, e.numSlots)
	owned := make([]bool, e.numSlots)
	remaining := slices.Clone(e.uses)
	for i, in := range inputs {
		if in == nil {
			return nil, errors.Errorf("fastcpu: %s: input #%d is nil", e.name, i)
		}
		s, err := sg.BufferShape(in)
		if err != nil {
			return nil, errors.WithMessagef(err, "fastcpu: %s: input #%d", e.name, i)
		}
		if !s.Equal(e.paramShapes[i]) {
			return nil, errors.Errorf("fastcpu: %s: input #%d has shape %s, expected %s", e.name, i, s, e.paramShapes[i])
		}
		slot := e.paramSlots[i]
		slots[slot] = in
		owned[slot] = len(donate) > i && donate[i]
	}
	release := func(slot int) {
		remaining[slot]--
		if remaining[slot] == 0 && owned[slot] && slots[slot] != nil {
			_ = sg.BufferFinalize(slots[slot])
			slots[slot] = nil
		}
	}
	freeAll := func() {
		for s, buf := range slots {
			if buf != nil && owned[s] {
				_ = sg.BufferFinalize(buf)
			}
			slots[s] = nil
		}
	}
	for _, st := range e.steps {
		if st.sub != nil {
			ins := make([]backends.Buffer, len(st.inputs))
			don := make([]bool, len(st.inputs))
			for i, s := range st.inputs {
				ins[i] = slots[s]
				if ins[i] == nil {
					freeAll()
					return nil, errors.Errorf("fastcpu: %s: value v%d missing for %s (bug)", e.name, s, st.name)
				}
				don[i] = owned[s] && remaining[s] == 1
			}
			t0 := time.Now()
			outs, err := st.sub.Execute(ins, don, 0)
			addStats("SimpleGo", 0, time.Since(t0))
			if err != nil {
				freeAll()
				return nil, errors.WithMessagef(err, "fastcpu: executing %s", st.name)
			}
			for i, s := range st.inputs {
				if don[i] {
					slots[s] = nil
				}
				release(s)
			}
			for i, s := range st.outputs {
				slots[s] = outs[i]
				owned[s] = true
			}
			for _, cp := range st.copies {
				buf, err := cloneBuffer(sg, slots[cp[0]])
				if err != nil {
					freeAll()
					return nil, errors.WithMessagef(err, "fastcpu: executing %s", st.name)
				}
				slots[cp[1]] = buf
				owned[cp[1]] = true
			}
			continue
		}
		out, err := e.runNative(st, slots)
		if err != nil {
			freeAll()
			return nil, err
		}
		for _, s := range st.inputs {
			release(s)
		}
		slots[st.outputs[0]] = out
		owned[st.outputs[0]] = true
	}
	results := make([]backends.Buffer, len(e.outputSlots))
	for i, s := range e.outputSlots {
		buf := slots[s]
		if buf == nil {
			freeAll()
			return nil, errors.Errorf("fastcpu: %s: output #%d not computed (bug)", e.name, i)
		}
		if !owned[s] {
			cp, err := cloneBuffer(sg, buf)
			if err != nil {
				freeAll()
				return nil, err
			}
			buf = cp
		} else {
			owned[s] = false // handed to the caller; a second use of the same slot gets a copy.
		}
		results[i] = buf
	}
	for s, buf := range slots {
		if buf != nil && owned[s] {
			_ = sg.BufferFinalize(buf)
		}
	}
	return results, nil
}

func cloneBuffer(sg backends.Backend, buf backends.Buffer) (backends.Buffer, error) {
	s, err := sg.BufferShape(buf)
	if err != nil {
		return nil, err
	}
	src, err := sg.BufferData(buf)
	if err != nil {
		return nil, err
	}
	nb, dst, err := sg.NewSharedBuffer(0, s)
	if err != nil {
		return nil, err
	}
	if err := copyFlatAny(dst, src); err != nil {
		return nil, err
	}
	return nb, nil
}

func (e *Executable) runNative(st step, slots []backends.Buffer) (backends.Buffer, error) {
	sg := e.backend.sg
	ins := make([]any, len(st.inputs))
	for i, s := range st.inputs {
		if slots[s] == nil {
			return nil, errors.Errorf("fastcpu: %s: value v%d missing for %s (bug)", e.name, s, st.name)
		}
		flat, err := sg.BufferData(slots[s])
		if err != nil {
			return nil, err
		}
		ins[i] = flat
	}
	outShape := e.slotShapes[st.outputs[0]]
	buf, flat, err := sg.NewSharedBuffer(0, outShape)
	if err != nil {
		return nil, err
	}
	nativeRuns.Add(1)
	t0 := time.Now()
	err = safeNative(st.native, ins, flat)
	addStats(st.native.name, st.native.flops, time.Since(t0))
	if err != nil {
		_ = sg.BufferFinalize(buf)
		return nil, errors.WithMessagef(err, "fastcpu: executing %s", st.name)
	}
	return buf, nil
}

// printOpSummary prints, per op name, how many reachable calls there are and their total output
// elements, split by native and SimpleGo execution (enabled by FASTCPU_DEBUG=1).
func (b *Builder) printOpSummary(reach []bool) {
	type agg struct{ n, elems int }
	m := map[string]*agg{}
	for _, c := range b.calls {
		if !reach[c.idx] || c.paramIdx >= 0 {
			continue
		}
		key := c.name + "/simplego"
		if c.native != nil {
			key = c.name + "/native"
		}
		a := m[key]
		if a == nil {
			a = &agg{}
			m[key] = a
		}
		a.n++
		for _, v := range c.outputs {
			a.elems += v.shape.Size()
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]].elems > m[keys[j]].elems })
	fmt.Fprintf(os.Stderr, "fastcpu: graph %q: %d calls\n", b.name, len(b.calls))
	for _, k := range keys {
		fmt.Fprintf(os.Stderr, "  %-32s %5d calls %12d output elements\n", k, m[k].n, m[k].elems)
	}
}

// safeNative runs a native kernel, turning a panic (a bug) into an error with its stack.
func safeNative(c *call, ins []any, out any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("fastcpu: native %s panicked (bug): %v\n%s", c, r, debug.Stack())
		}
	}()
	return c.native(ins, out)
}
