import { describe, expect, it } from 'vitest';
import { OptionsError } from '../errors.js';
import { CODEC_SPECS, DEFAULT_TOPK_VALUE, parseCodec } from './index.js';

describe('parseCodec', () => {
  it.each([
    ['f32', 'f32'],
    ['f16', 'f16'],
    ['int8', 'int8'],
    ['int8@256', 'int8@256'],
    ['int8@1024', 'int8'],
    ['int4', 'int4'],
    ['int4@64', 'int4@64'],
    ['ternary', 'ternary'],
    ['ternary@128', 'ternary@128'],
    ['topk:0.01+int8', 'topk:0.01+int8'],
    ['topk:0.010+int8@256', 'topk:0.01+int8@256'],
    ['topk:1e-3+ternary', 'topk:0.001+ternary'],
    ['topk:.5+f16', 'topk:0.5+f16'],
    ['topk:1+f32', 'topk:1+f32'],
    ['topk:0.01', `topk:0.01+${DEFAULT_TOPK_VALUE}`],
    ['topk:0.01+int8+ef', 'topk:0.01+int8+ef'],
    ['topk:0.01+int8+deflate', 'topk:0.01+int8+deflate'],
    ['topk:0.01+int8+ef+deflate', 'topk:0.01+int8+deflate+ef'],
    ['topk:0.01+deflate', 'topk:0.01+f32+deflate'],
    ['int8+deflate+ef', 'int8+deflate+ef'],
    ['f32+ef', 'f32+ef'],
  ])('reads %s as %s', (spec, canonical) => {
    const codec = parseCodec(spec);
    expect(codec.spec).toBe(canonical);
    expect(parseCodec(canonical).spec).toBe(canonical);
    expect(codec.errorFeedback === true).toBe(spec.includes('+ef'));
  });

  it.each([
    ['', /non-empty/],
    ['int9', /unknown codec "int9"/],
    ['int8@0', /int8 chunk size must be in 1..16777216, got 0/],
    ['int4@99999999', /int4 chunk size/],
    ['ternary@x', /unknown codec "ternary@x"/],
    ['topk:0', /fraction must be a number in \(0, 1\], got "0"/],
    ['topk:0+int8', /fraction/],
    ['topk:2+int8', /fraction must be a number in \(0, 1\], got "2"/],
    ['topk:-0.1+int8', /fraction/],
    ['topk:abc+int8', /fraction/],
    ['topk:0x1+int8', /fraction/],
    ['topk:+int8', /fraction/],
    ['topk:NaN+int8', /fraction/],
    ['topk:Infinity', /fraction/],
    ['topk:0.01+int8+int4', /unexpected part "\+int4"/],
    ['topk:0.01+topk:0.5', /top-k values cannot themselves be top-k/],
    ['topk:0.01+bogus', /unknown codec "bogus"/],
    ['topk:0.01+ef+int8', /unexpected part "\+int8"/],
    ['int8+int4', /unexpected part "\+int4"/],
    ['int8+ef+ef', /\+ef twice/],
    ['int8+deflate+ef+deflate', /\+deflate twice/],
    ['int8+', /unexpected part "\+"/],
    ['+ef', /unknown codec ""/],
    ['INT8', /unknown codec/],
    [' int8', /unknown codec/],
  ])('rejects %j with OptionsError("codec")', (spec, message) => {
    let caught: unknown;
    try {
      parseCodec(spec);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(OptionsError);
    expect((caught as OptionsError).option).toBe('codec');
    expect((caught as OptionsError).message).toMatch(message);
  });

  it('lists every form it accepts', () => {
    expect(CODEC_SPECS).toEqual(expect.arrayContaining(['f32', 'f16', 'int8', 'int4', 'ternary', 'topk:FRACTION+VALUE', 'SPEC+deflate', 'SPEC+ef']));
  });
});
