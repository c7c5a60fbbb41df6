package com.flowerpipeline.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File
import java.nio.ByteBuffer
import java.util.Base64

/**
 * The app's whole answer path on real exported files against `pipeline predict`. For each case
 * of decode_cases.json (tests/clients/make_fixtures.py decode): the model file's spec read as
 * the app reads it (ModelFile), the raw output bytes Python LiteRT gave for one image put
 * through Outputs.dequantize and Outputs.decode as FlowerClassifier does, and every head must
 * answer what `pipeline predict --json` answered for that file and image: a class or "not sure"
 * (classification), the classes present (multilabel), the number and unit (regression), each
 * score and threshold. `make test-clients` runs it on the flower run and on a run with a head of
 * each kind, with -Dgolden.required=true so that missing fixtures fail instead of skipping.
 */
class RealOutputsTest {
    private val dir = System.getProperty("golden.dir")?.takeIf { it.isNotBlank() }?.let(::File)
    private val specs = HashMap<String, ModelSpec>()

    @Test
    fun appDecodesRealOutputsAsPredictAnswers() {
        if (System.getProperty("golden.required") == "true") {
            assertTrue("golden.dir $dir has no decode_cases.json", dir != null && File(dir, "decode_cases.json").isFile)
        }
        assumeTrue("no golden.dir: run `make test-clients` to write the fixtures", dir != null)
        val cases = Json.parse(File(dir, "decode_cases.json").readText()).asList("decode_cases.json")
        assertTrue("decode_cases.json lists no cases", cases.isNotEmpty())
        val heads = sortedMapOf<String, Int>()
        for (case in cases.map { it.asObject("case") }) {
            for (r in check(case)) {
                val what = when {
                    r.kind == HeadKind.CLASSIFICATION && !r.answered -> "classification (not sure)"
                    r.kind == HeadKind.MULTILABEL && r.present.isEmpty() -> "multilabel (none present)"
                    else -> r.kind.key
                }
                heads[what] = (heads[what] ?: 0) + 1
            }
        }
        println("RealOutputsTest: ${cases.size} cases of ${specs.size} model files in $dir, " +
                "head answers equal to predict's: $heads")
    }

    private fun check(case: Map<String, Any?>): List<HeadResult> {
        val file = case.field("model").asString("model")
        val where = "$file ${case.field("image")}"
        val spec = specs.getOrPut(file) { ModelFile.spec(File(dir, file).readBytes()) }
        val variant = spec.variant()
        assertEquals("$where: variant", case.field("variant"), variant.key)
        val outputs = case.field("outputs").asObject("outputs").mapValues { (name, o) -> dequantize(name, o.asObject(name)) }
        val results = Outputs.decode(spec.heads, outputs, variant.thresholds, spec.kinds)
        val predict = case.field("predict").asObject("predict")
        assertEquals("$where: heads", predict.keys.toList(), results.map { it.head })
        for (r in results) checkHead("$where ${r.head}", r, predict.field(r.head).asObject(r.head))
        Outputs.describe(results) // the screen's text must be writable for every kind
        return results
    }

    /** As FlowerClassifier.run: the output buffer's bytes, its dtype, quantization and size. */
    private fun dequantize(name: String, o: Map<String, Any?>): FloatArray {
        val bytes = Base64.getDecoder().decode(o.field("bytes").asString("$name.bytes"))
        val q = o["quantization"]?.asList("$name.quantization")?.let {
            Quantization(it[0].asNumber("scale").toFloat(), it[1].asNumber("zero_point").toInt())
        }
        return Outputs.dequantize(ByteBuffer.wrap(bytes), DType.of(o.field("dtype").asString("$name.dtype")), q,
                                  o.field("count").asNumber("$name.count").toInt())
    }

    private fun checkHead(where: String, r: HeadResult, want: Map<String, Any?>) {
        when (r.kind) {
            HeadKind.CLASSIFICATION -> {
                assertEquals("$where: class (null: not sure)", want.field("label"), if (r.answered) r.best.label else null)
                assertEquals("$where: threshold", (want.field("threshold") as Double?)?.toFloat(), r.threshold)
            }
            HeadKind.MULTILABEL -> {
                assertEquals("$where: classes present", want.field("labels"), r.present.map { it.label })
                assertEquals("$where: threshold", want.field("threshold").asNumber("threshold").toFloat(),
                             r.threshold ?: HeadResult.MULTILABEL_THRESHOLD)
            }
            HeadKind.REGRESSION -> {
                // predict rounds to 6 decimals
                assertEquals("$where: value", want.field("value").asNumber("value"), r.value!!.toDouble(), 1e-6)
                assertEquals("$where: unit", want.field("unit"), r.unit)
                return
            }
        }
        val scores = want.field("probabilities").asObject("probabilities")
        assertEquals("$where: classes", scores.keys, r.ranked.map { it.label }.toSet())
        for (s in r.ranked) {
            assertEquals("$where: score of ${s.label}", scores.field(s.label).asNumber(s.label), s.probability.toDouble(), 1e-6)
        }
    }
}
