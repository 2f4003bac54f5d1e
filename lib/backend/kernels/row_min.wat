;; Row minimum of a row-major float32 matrix, in the memory of the tfjs wasm backend.
;; Assembled into row_min.ts by `deno task kernels`; tests check the two agree.
;;
;; tfjs-wasm's Min kernel compares one value at a time (about 1 ns each here); this reads
;; 16 floats per step into four independent accumulators with f32x4.pmin, which compiles to
;; one minps (f32x4.min's NaN and signed-zero rules cost several instructions per lane).
(module
  (import "env" "memory" (memory 1))
  ;; out[r] = min over c < cols of m[r * cols + c], for r < rows; m and out are byte offsets.
  (func (export "rowMin") (param $m i32) (param $rows i32) (param $cols i32) (param $out i32)
    (local $r i32) (local $p i32) (local $vend i32) (local $end i32) (local $s f32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.add (local.get $m) (i32.shl (local.get $cols) (i32.const 2))))
        (local.set $vend (i32.add (local.get $m)
          (i32.shl (i32.and (local.get $cols) (i32.const -16)) (i32.const 2))))
        (local.set $a (f32x4.splat (f32.const inf)))
        (local.set $b (local.get $a))
        (local.set $c (local.get $a))
        (local.set $d (local.get $a))
        (local.set $p (local.get $m))
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
            (local.set $a (f32x4.pmin (v128.load (local.get $p)) (local.get $a)))
            (local.set $b (f32x4.pmin (v128.load offset=16 (local.get $p)) (local.get $b)))
            (local.set $c (f32x4.pmin (v128.load offset=32 (local.get $p)) (local.get $c)))
            (local.set $d (f32x4.pmin (v128.load offset=48 (local.get $p)) (local.get $d)))
            (local.set $p (i32.add (local.get $p) (i32.const 64)))
            (br $vec)))
        (local.set $a (f32x4.pmin (f32x4.pmin (local.get $a) (local.get $b))
                                  (f32x4.pmin (local.get $c) (local.get $d))))
        (local.set $s
          (f32.min
            (f32.min (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
            (f32.min (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a)))))
        ;; The last cols % 16 values, one at a time.
        (block $tdone
          (loop $tail
            (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $s (f32.min (local.get $s) (f32.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $tail)))
        (f32.store (local.get $out) (local.get $s))
        (local.set $m (local.get $end))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))
)
