/**
 * Short labels drawn into RGB pixels with a built-in 5×8 bitmap font: the same pixels on every
 * machine, with no fonts installed (text through sharp's SVG or Pango rendering depends on the
 * fonts fontconfig finds, and draws nothing where there are none).
 *
 * @module
 */
import { MadError } from "../errors.ts";

/** Glyph cell: 5 pixels wide, 8 high (the baseline under row 7; row 8 holds descenders). */
const GLYPH_W = 5, GLYPH_H = 8;

/** A column of blank pixels between glyphs. */
const ADVANCE = GLYPH_W + 1;

// Each glyph: eight rows of five, "#" inked. Lower case, digits and what the labels need.
const FONT: Record<string, string> = {
  " ": ".....|.....|.....|.....|.....|.....|.....|.....",
  a: ".....|.....|.###.|....#|.####|#...#|.####|.....",
  b: "#....|#....|####.|#...#|#...#|#...#|####.|.....",
  c: ".....|.....|.###.|#....|#....|#....|.###.|.....",
  d: "....#|....#|.####|#...#|#...#|#...#|.####|.....",
  e: ".....|.....|.###.|#...#|#####|#....|.###.|.....",
  f: "..##.|.#...|###..|.#...|.#...|.#...|.#...|.....",
  g: ".....|.....|.####|#...#|#...#|.####|....#|.###.",
  h: "#....|#....|####.|#...#|#...#|#...#|#...#|.....",
  i: "..#..|.....|.##..|..#..|..#..|..#..|.###.|.....",
  j: "...#.|.....|..##.|...#.|...#.|...#.|...#.|.##..",
  k: "#....|#....|#..#.|#.#..|##...|#.#..|#..#.|.....",
  l: ".##..|..#..|..#..|..#..|..#..|..#..|.###.|.....",
  m: ".....|.....|##.#.|#.#.#|#.#.#|#.#.#|#.#.#|.....",
  n: ".....|.....|####.|#...#|#...#|#...#|#...#|.....",
  o: ".....|.....|.###.|#...#|#...#|#...#|.###.|.....",
  p: ".....|.....|####.|#...#|#...#|####.|#....|#....",
  q: ".....|.....|.####|#...#|#...#|.####|....#|....#",
  r: ".....|.....|#.##.|##..#|#....|#....|#....|.....",
  s: ".....|.....|.####|#....|.###.|....#|####.|.....",
  t: ".#...|.#...|###..|.#...|.#...|.#..#|..##.|.....",
  u: ".....|.....|#...#|#...#|#...#|#..##|.##.#|.....",
  v: ".....|.....|#...#|#...#|#...#|.#.#.|..#..|.....",
  w: ".....|.....|#...#|#...#|#.#.#|#.#.#|.#.#.|.....",
  x: ".....|.....|#...#|.#.#.|..#..|.#.#.|#...#|.....",
  y: ".....|.....|#...#|#...#|#...#|.####|....#|.###.",
  z: ".....|.....|#####|...#.|..#..|.#...|#####|.....",
  "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.|.....",
  "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.|.....",
  "2": ".###.|#...#|....#|...#.|..#..|.#...|#####|.....",
  "3": "#####|...#.|..#..|...#.|....#|#...#|.###.|.....",
  "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.|.....",
  "5": "#####|#....|####.|....#|....#|#...#|.###.|.....",
  "6": "..##.|.#...|#....|####.|#...#|#...#|.###.|.....",
  "7": "#####|....#|...#.|..#..|.#...|.#...|.#...|.....",
  "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.|.....",
  "9": ".###.|#...#|#...#|.####|....#|...#.|.##..|.....",
  S: ".####|#....|#....|.###.|....#|....#|####.|.....",
  D: "###..|#..#.|#...#|#...#|#...#|#..#.|###..|.....",
  "(": "...#.|..#..|.#...|.#...|.#...|..#..|...#.|.....",
  ")": ".#...|..#..|...#.|...#.|...#.|..#..|.#...|.....",
  "+": ".....|..#..|..#..|#####|..#..|..#..|.....|.....",
  "-": ".....|.....|.....|#####|.....|.....|.....|.....",
  ".": ".....|.....|.....|.....|.....|.##..|.##..|.....",
};

/** The size `text` takes at `scale` (pixels per font pixel), laid along its line. */
export function textSize(text: string, scale = 1): { length: number; height: number } {
  return {
    length: Math.max(0, text.length * ADVANCE - 1) * scale,
    height: GLYPH_H * scale,
  };
}

/**
 * Draws `text` into `rgb` (RGB bytes, `width` pixels a row) in `colour`, its top-left corner at
 * (x, y). `upward` turns it a quarter to the left, to read from bottom to top as a y-axis title:
 * the letters' tops then face left, x is the line's left edge and y its lower end. Pixels outside
 * the image are skipped; a character outside the font is refused.
 */
export function drawText(
  rgb: Uint8Array,
  width: number,
  x: number,
  y: number,
  text: string,
  options: { scale?: number; colour?: readonly number[]; upward?: boolean } = {},
): void {
  const scale = options.scale ?? 1;
  const colour = options.colour ?? [0, 0, 0];
  const height = rgb.length / 3 / width;
  const put = (px: number, py: number) => {
    if (px < 0 || py < 0 || px >= width || py >= height) return;
    rgb.set(colour, (py * width + px) * 3);
  };
  for (const [k, char] of [...text].entries()) {
    const glyph = FONT[char];
    if (!glyph) throw new MadError(`bitmap text: no glyph for ${JSON.stringify(char)}`);
    const rows = glyph.split("|");
    for (let gy = 0; gy < GLYPH_H; gy++) {
      for (let gx = 0; gx < GLYPH_W; gx++) {
        if (rows[gy][gx] !== "#") continue;
        // Along the line and across it, in output pixels.
        const along = (k * ADVANCE + gx) * scale, across = gy * scale;
        for (let a = 0; a < scale; a++) {
          for (let b = 0; b < scale; b++) {
            if (options.upward) put(x + across + b, y - along - a);
            else put(x + along + a, y + across + b);
          }
        }
      }
    }
  }
}
