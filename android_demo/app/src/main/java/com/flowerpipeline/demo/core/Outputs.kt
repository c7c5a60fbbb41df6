package com.flowerpipeline.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

data class ClassScore(val label: String, val probability: Float)

/**
 * One head's answer: every class ranked by probability, and the best one unless the head is
 * not sure ([NotSure]). `threshold` is null for a model exported before thresholds existed.
 */
data class HeadResult(val head: String, val ranked: List<ClassScore>, val threshold: Float? = null) {
    val best: ClassScore get() = ranked.first()
    val answered: Boolean get() = NotSure.answers(best.probability, threshold)
}

/**
 * The "not sure" rule, the same in every reader of the model (predict, evaluate, report, web
 * page, this app): a head answers its top class iff that class's score reaches the head's
 * threshold (`variants.<v>.outputs.<head>.threshold` in model.json). Scores are the head's
 * probabilities as the model gives them (they may sum to less than 1). A model exported before
 * thresholds existed has none: it always answers, so old files keep working.
 */
object NotSure {
    fun answers(topScore: Float, threshold: Float?): Boolean = threshold == null || topScore >= threshold
}

/**
 * Output tensors -> labelled results. Outputs are looked up by their signature name only:
 * the converter may list a multi-output model's tensors in any order.
 */
object Outputs {
    /** Raw output bytes (native order) -> probabilities; integer outputs are dequantized. */
    fun dequantize(raw: ByteBuffer, dtype: DType, quantization: Quantization?, count: Int): FloatArray {
        val buf = raw.duplicate().order(ByteOrder.nativeOrder())
        buf.rewind()
        if (dtype == DType.FLOAT32) return FloatArray(count) { buf.getFloat() }
        val q = quantization ?: throw IllegalArgumentException("a $dtype output needs its quantization")
        return FloatArray(count) {
            val b = buf.get().toInt()
            val v = if (dtype == DType.UINT8) b and 0xFF else b
            (v - q.zeroPoint) * q.scale
        }
    }

    fun argmax(values: FloatArray): Int {
        require(values.isNotEmpty()) { "argmax of an empty array" }
        var best = 0
        for (i in 1 until values.size) if (values[i] > values[best]) best = i
        return best
    }

    /** Indices of the k largest values, largest first; ties keep the lower index first. */
    fun topK(values: FloatArray, k: Int): List<Int> =
        values.indices.sortedWith(compareByDescending<Int> { values[it] }.thenBy { it }).take(k)

    /** Each head of model.json, in its order, read from `outputs` by name; `thresholds` by head. */
    fun decode(heads: Map<String, List<String>>, outputs: Map<String, FloatArray>,
               thresholds: Map<String, Float> = emptyMap()): List<HeadResult> =
        heads.map { (name, labels) ->
            val probs = outputs[name]
                ?: throw IllegalArgumentException("model has no output named '$name' (has ${outputs.keys})")
            require(probs.size == labels.size) { "output '$name' has ${probs.size} values for ${labels.size} labels" }
            HeadResult(name, topK(probs, labels.size).map { ClassScore(labels[it], probs[it]) }, thresholds[name])
        }

    /** "flower_type: rose 93.1%  (daisy 6.9%)" lines, or "flower_type: not sure  (rose 41.0%, ...)". */
    fun describe(results: List<HeadResult>): String = results.joinToString("\n") { r ->
        if (r.answered) {
            val others = r.ranked.drop(1).joinToString(", ") { "${it.label} ${percent(it.probability)}" }
            "${r.head}: ${r.best.label} ${percent(r.best.probability)}  ($others)"
        } else {
            val all = r.ranked.joinToString(", ") { "${it.label} ${percent(it.probability)}" }
            "${r.head}: not sure  ($all; needs ${percent(r.threshold!!)})"
        }
    }

    private fun percent(p: Float): String = String.format(java.util.Locale.ROOT, "%.1f%%", p * 100)
}
