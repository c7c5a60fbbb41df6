package com.flowerpipeline.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

data class ClassScore(val label: String, val probability: Float)

/** One head's answer: its best class and every class ranked by probability. */
data class HeadResult(val head: String, val ranked: List<ClassScore>) {
    val best: ClassScore get() = ranked.first()
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

    /** Each head of model.json, in its order, read from `outputs` by name. */
    fun decode(heads: Map<String, List<String>>, outputs: Map<String, FloatArray>): List<HeadResult> =
        heads.map { (name, labels) ->
            val probs = outputs[name]
                ?: throw IllegalArgumentException("model has no output named '$name' (has ${outputs.keys})")
            require(probs.size == labels.size) { "output '$name' has ${probs.size} values for ${labels.size} labels" }
            HeadResult(name, topK(probs, labels.size).map { ClassScore(labels[it], probs[it]) })
        }

    /** "flower_type: rose 93.1%" lines for the screen. */
    fun describe(results: List<HeadResult>): String = results.joinToString("\n") { r ->
        val others = r.ranked.drop(1).joinToString(", ") { "${it.label} ${percent(it.probability)}" }
        "${r.head}: ${r.best.label} ${percent(r.best.probability)}  ($others)"
    }

    private fun percent(p: Float): String = String.format(java.util.Locale.ROOT, "%.1f%%", p * 100)
}
